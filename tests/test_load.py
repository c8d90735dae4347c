"""Many visitors at once: concurrent gradio_client clients on /classify, loopback only, bounded in
time (every call and every HTTP request has a timeout; the threads are joined with one).

HTTP requests get 60 s rather than gradio_client's 5 s default: with 64 clients queued on two cores
an upload can wait longer than that, as it would in a browser, which has no such limit. Slowness
under load is a figure for the benchmark (python -m benchmarks); here an error is a failure."""
import pytest

from benchmarks.launch import first_output, hammer, sketch_value

pytestmark = pytest.mark.slow

SECONDS, CALL_TIMEOUT = 10.0, 60.0


def reads_a_seven(result) -> None:
    label = first_output(result)
    if label.get("label") != "7" or len(label.get("confidences", [])) != 10:
        raise AssertionError(f"not a reading of the 7 that was sent: {str(label)[:120]}")


def test_64_visitors_drawing_at_once_all_get_their_readings(app_url, tmp_path):
    """Each of 64 clients draws its own 7 and sends it back to back for ten seconds."""
    sketches = [sketch_value(tmp_path, 7, variant=i + 1) for i in range(64)]
    figures = hammer(app_url, "/classify", lambda i: [sketches[i]], 64, SECONDS, check=reads_a_seven, timeout=CALL_TIMEOUT)
    assert figures["errors"] == 0, f"{figures['errors']} errors, e.g. {figures['first_errors']}"
    assert figures["clients_answered"] == 64, f"some clients never got an answer: {figures}"


def test_identical_answers_to_concurrent_visitors_all_arrive(app_url, tmp_path):
    """16 clients send the same drawing, so the server answers each with the same images at the
    same moment (as every visitor opening the Generate tab gets the same default digit). Each
    answer's images must download whole."""
    sketch = sketch_value(tmp_path, 7)
    figures = hammer(app_url, "/classify", [sketch], 16, 5.0, check=reads_a_seven, timeout=CALL_TIMEOUT)
    assert figures["errors"] == 0, f"{figures['errors']} errors, e.g. {figures['first_errors']}"
