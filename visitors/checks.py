"""Small checks every endpoint makes of its inputs before any work, each refusal a gr.Error in the
caller's language (words: locales/, keys `checks.*`): numbers that are finite and in range, whole
numbers, choices, text of bounded length, and Gradio's own reading of a
value (`word_gradio_refusals`), which otherwise fails with no words at all.

Gradio reads each input with its component before the function runs: a Number with bounds
compares "nan" with its minimum and raises TypeError, a Slider compares None, an Image validates
-1 as a file. Those reach an API client as a bare error ("has not enabled verbose error
reporting"). `word_gradio_refusals` makes each of them a sentence naming the parameter and what it
takes; in an event's `validator=` (which Gradio runs before the call is queued) the same sentence
comes back as that parameter's validation message.

`validator(**rules)` builds such a validator from the checks below: the call is refused before
it joins the queue, as gradio_client's ValidationError with the message.
"""
import contextvars
import inspect
import math
import re

import gradio as gr

import locales

MAX_TEXT = 1000  # characters of a free-text input (a name, a stage): far past any real one
SHOWN = 40  # characters of a refused value repeated back


def shown(value) -> str:
    """A refused value as the caller can recognise it, never a wall of text."""
    said = repr(value)
    return said if len(said) <= SHOWN else said[: SHOWN - 3] + "..."


def refusal(key: str, lang: str | None, **values) -> gr.Error:
    return gr.Error(locales.text(key, lang, **values), title=locales.text("common.error", lang), print_exception=False)


def _real(value) -> float | None:
    """A finite real number from what a client may send (a number or its text), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if len(value) > 64:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def number(value, name: str, lang: str | None, low: float | None = None, high: float | None = None,
           whole: bool = False, default=None):
    """`value` as a finite float (an int when `whole`) in [low, high]; None gives `default` when
    one is set. Raises gr.Error saying what `name` takes."""
    if value is None and default is not None:
        return default
    number_ = _real(value)
    if number_ is not None and whole:
        number_ = int(number_) if number_ == int(number_) else None
    in_range = number_ is not None and (low is None or number_ >= low) and (high is None or number_ <= high)
    if not in_range:
        key = "checks.whole" if whole else "checks.number"
        raise refusal(key, lang, name=name, range=_range(low, high, lang), value=shown(value))
    return number_


def _range(low, high, lang) -> str:
    if low is not None and high is not None:
        return locales.text("checks.range.between", lang, low=f"{low:g}", high=f"{high:g}")
    if low is not None:
        return locales.text("checks.range.at_least", lang, low=f"{low:g}")
    if high is not None:
        return locales.text("checks.range.at_most", lang, high=f"{high:g}")
    return ""


def choice(value, name: str, lang: str | None, choices, default=None):
    """`value` if it is one of `choices` (compared as text, so 3 and "3" are one digit)."""
    if value is None and default is not None:
        return default
    by_text = {str(c): c for c in choices}
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) in by_text:
        return by_text[str(value)]
    raise refusal("checks.choice", lang, name=name, choices=", ".join(by_text), value=shown(value))


def text(value, name: str, lang: str | None, most: int = MAX_TEXT, default: str | None = None) -> str | None:
    """`value` as text of at most `most` characters (None gives `default`)."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise refusal("checks.text", lang, name=name, kind=type(value).__name__)
    if len(value) > most:
        raise refusal("checks.text_long", lang, name=name, length=f"{len(value):,}", most=f"{most:,}")
    return value


def validator(**rules):
    """An event's `validator=`: `rules` maps each of the event's inputs, in order, by its
    parameter name, to a check (value, lang) -> anything that raises gr.Error, or to None (a
    state, nothing to check). The validator returns gr.validate for each input, so a refused call
    never joins the queue: a client gets ValidationError with the message, the page sees it on
    the input."""

    def validate(*values, request: gr.Request = None):
        if request is None and len(values) > len(rules):  # Gradio hands the request in by position
            request = values[len(rules)]
        lang = locales.language(request)
        verdicts = []
        for name, value in zip(rules, values):
            try:
                if rules[name] is not None:
                    rules[name](value, lang)
            except gr.Error as error:
                verdicts.append(gr.validate(False, error.message))
            else:
                verdicts.append(gr.validate(True, ""))
        return verdicts[0] if len(verdicts) == 1 else verdicts  # Gradio wraps a single output itself

    params = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in rules]
    # positional, as Gradio hands a gr.Request only to a positional parameter annotated so
    params.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request))
    validate.__signature__ = inspect.Signature(params)
    return validate


# ---- Gradio's own reading of a value, in words ---------------------------------------------------

_REQUEST = contextvars.ContextVar("digit_lab_request", default=None)


def _input_index(block_fn, inputs, error) -> int | None:
    found = re.search(r"at index (\d+)", str(error))
    if found:
        return int(found[1])
    for index, block in enumerate(block_fn.inputs[: len(inputs)]):  # read each again, alone, to find it
        model = getattr(block, "data_model", None)
        try:
            if model is not None:  # a file: its data model, never its (costly) preprocess
                if inputs[index] is not None:
                    model.model_validate(inputs[index])
            elif not getattr(block, "stateful", False):
                block.preprocess(inputs[index])
        except Exception:
            return index
    return None


def _parameter(block_fn, index: int) -> str:
    try:
        from gradio import blocks, utils

        return blocks._get_api_parameter_name(block_fn, utils.get_function_params(block_fn.fn), index)
    except Exception:
        return f"param_{index}"


def _expected(block, lang) -> str:
    """What a component takes, in words: a number in its range, a picture, a choice, text."""
    kind = type(block).__name__.lower()
    if kind in ("number", "slider"):
        span = _range(getattr(block, "minimum", None), getattr(block, "maximum", None), lang)
        whole = getattr(block, "precision", None) == 0 or (kind == "slider" and float(getattr(block, "step", 0.5)).is_integer())
        return locales.text("checks.expect.whole" if whole else "checks.expect.number", lang, range=span).strip()
    if kind in ("image", "sketchpad", "imageeditor", "file"):
        return locales.text("checks.expect.picture", lang)
    if kind == "checkbox":
        return locales.text("checks.expect.bool", lang)
    choices = getattr(block, "choices", None)
    if choices:
        listed = ", ".join(str(c[1] if isinstance(c, (tuple, list)) else c) for c in choices)
        return locales.text("checks.expect.choice", lang, choices=listed)
    return locales.text("checks.expect.other", lang)


def _worded(block_fn, inputs, error, lang) -> tuple[int | None, str]:
    index = _input_index(block_fn, inputs, error)
    if index is None or index >= len(block_fn.inputs):
        return None, locales.text("checks.unreadable_any", lang)
    value = inputs[index].get("value") if isinstance(inputs[index], dict) and "__type__" in inputs[index] else inputs[index]
    return index, locales.text("checks.unreadable", lang, name=_parameter(block_fn, index),
                               expected=_expected(block_fn.inputs[index], lang), value=shown(value))


class _Invalid(Exception):
    def __init__(self, index, message):
        super().__init__(message)
        self.index, self.message = index, message


def word_gradio_refusals() -> None:
    """Make Gradio's failures to read an input (see the module's docstring) sentences in the
    caller's language. Idempotent."""
    from gradio.blocks import Blocks

    if getattr(Blocks.preprocess_data, "worded", False):
        return
    read, process = Blocks.preprocess_data, Blocks.process_api

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
        validating = getattr(block_fn, "is_validator_function", False)
        try:
            return await read(self, block_fn, inputs, state, explicit_call)
        except gr.Error as error:  # Gradio's own words (a bound, a choice): as they are, but never lost
            if validating:
                raise _Invalid(_input_index(block_fn, inputs, error), error.message) from None
            raise
        except Exception as error:
            lang = locales.language(_REQUEST.get())
            index, message = _worded(block_fn, inputs, error, lang)
            if validating:
                raise _Invalid(index, message) from None
            raise gr.Error(message, title=locales.text("common.error", lang), print_exception=False) from None

    async def process_api(self, block_fn, inputs, state=None, request=None, *args, **kwargs):
        token = _REQUEST.set(request[0] if isinstance(request, list) and request else request)
        try:
            return await process(self, block_fn, inputs, state, request, *args, **kwargs)
        except _Invalid as invalid:  # a validator's input Gradio could not read: that input's message
            wrong = invalid.index or 0
            return {"data": [gr.validate(i != wrong, invalid.message if i == wrong else "")
                             for i in range(max(len(block_fn.inputs), 1))]}
        finally:
            _REQUEST.reset(token)

    preprocess_data.worded = True
    Blocks.preprocess_data, Blocks.process_api = preprocess_data, process_api
