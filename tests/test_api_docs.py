"""docs/api.md against the launched app: every endpoint the app lists on its API page has a
section in the guide (a heading such as `### /classify_strokes`), and the guide documents no
endpoint the app does not list."""
import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
HEADING = re.compile(r"^#{2,4}\s+`?(/[A-Za-z0-9_]+)`?\s*$", re.MULTILINE)


def documented_endpoints(text: str) -> set[str]:
    return set(HEADING.findall(text))


def test_the_heading_parser_reads_endpoint_names():
    text = "# Digit Lab's API\n## Draw\n### /classify_strokes\nprose /not_a_heading\n#### `/sample`\n"
    assert documented_endpoints(text) == {"/classify_strokes", "/sample"}


def test_the_api_guide_documents_exactly_the_endpoints_the_app_lists(client):
    listed = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    documented = documented_endpoints(GUIDE.read_text(encoding="utf-8"))
    missing, extra = sorted(listed - documented), sorted(documented - listed)
    assert not missing and not extra, (
        f"docs/api.md is out of step with the app's API page: "
        f"missing (listed by the app, no heading in the guide): {missing or 'none'}; "
        f"extra (a heading in the guide, not listed by the app): {extra or 'none'}"
    )
