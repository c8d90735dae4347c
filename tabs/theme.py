"""Digit Lab's Gradio theme: Gradio's default, with every text and button colour at WCAG AA
contrast (4.5:1 for text) in the light and the dark mode.

Gradio's default draws secondary text (info lines under labels, slider ends, the footer) in
neutral-400 (#9ca3af-ish, 1.9:1 on white) and white on orange or light red buttons (2.8:1 and
3.8:1). Here secondary text is neutral-600 in light mode (7:1 on white) and neutral-300 in dark
mode, and buttons are a deep blue (primary) and a deep red (stop) under white text.
tests/test_accessibility.py checks every tab with axe-core in both modes."""
import gradio as gr

INK_BLUE, INK_BLUE_HOVER = "#1d4ed8", "#1e40af"  # blue-700 / blue-800: 6.7:1 and 8.7:1 under white
STOP_RED, STOP_RED_HOVER = "#b91c1c", "#991b1b"  # red-700 / red-800: 6.5:1 and 8.3:1 under white


def _light_and_dark(**settings) -> dict:
    """The same value for a setting and its `_dark` twin."""
    return settings | {f"{name}_dark": value for name, value in settings.items()}


def digit_lab_theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="blue", neutral_hue="gray").set(
        body_text_color_subdued="*neutral_600",
        body_text_color_subdued_dark="*neutral_300",
        block_info_text_color="*neutral_600",
        block_info_text_color_dark="*neutral_300",
        **_light_and_dark(
            button_primary_background_fill=INK_BLUE,
            button_primary_background_fill_hover=INK_BLUE_HOVER,
            button_primary_text_color="white",
            button_primary_border_color=INK_BLUE,
            button_cancel_background_fill=STOP_RED,
            button_cancel_background_fill_hover=STOP_RED_HOVER,
            button_cancel_text_color="white",
            button_cancel_border_color=STOP_RED,
        ),
    )
