import io
import os
import re

from prefect import flow
from prefect.artifacts import update_progress_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.progress import TerminalProgress
from tasks import artifacts


def read_until_closed(controller: int) -> bytes:
    """Everything the terminal side wrote: a pty hands its output over in chunks (the kernel pushes it
    asynchronously), so one read can miss the end; read until the closed side reports EIO."""
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 8192)
        except OSError:  # EIO: the terminal side is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return b"".join(chunks)


def test_a_terminal_gets_one_line_redrawn_in_place_and_ended_when_done():
    controller, terminal = os.openpty()
    with os.fdopen(terminal, "w") as stream:
        progress = TerminalProgress("reference models", stream)
        for done in range(0, 65, 16):
            progress(done, 64)
    ansi = r"\x1b\[[0-9;?]*[A-Za-z]"
    shown = re.sub(ansi, "", read_until_closed(controller).decode())
    frames = [frame for frame in shown.replace("\r\n", "\n").split("\r") if frame]
    assert [frame.split()[2] for frame in frames[1:-1]] == ["0/64", "16/64", "32/64", "48/64", "64/64"]
    assert frames[2] == "reference models 16/64 " + "━" * 7 + "╸" + "━" * 22 + "  25%"
    assert frames[-1] == "reference models 64/64 " + "━" * 30 + " 100%\n"
    assert shown.count("\n") == 1


def test_a_log_gets_a_plain_line_per_tenth_of_the_way():
    log = io.StringIO()
    progress = TerminalProgress("reference models", log)
    for done in range(65):
        progress(done, 64)
    lines = log.getvalue().splitlines()
    assert len(lines) == 11 and "\r" not in log.getvalue()
    assert lines[0] == "reference models  0/64 [                              ]   0%"
    assert lines[1].startswith("reference models  7/64 [===") and lines[1].endswith("10%")
    assert lines[-1] == "reference models  64/64 [==============================] 100%"


def test_a_log_of_few_items_gets_a_line_per_quarter():
    log = io.StringIO()
    progress = TerminalProgress("conditions", log, log_steps=4)
    for done in range(11):
        progress(done, 10)
    assert [line.split(" [")[0] for line in log.getvalue().splitlines()] == [
        "conditions  0/10",
        "conditions  3/10",
        "conditions  5/10",
        "conditions  8/10",
        "conditions  10/10",
    ]


def test_a_progress_artifact_moves_a_twentieth_of_the_way_at_a_time_and_ends_at_100(
    prefect_api_url, monkeypatch
):
    sent = []

    def update(artifact_id, progress):  # the real request, counted
        sent.append(progress)
        return update_progress_artifact(artifact_id, progress=progress)

    @flow
    def fifty_items() -> None:
        report = artifacts.progress_reporter("progress-steps-test", "fifty items")
        for done in range(51):
            report(done, 50)

    monkeypatch.setattr(artifacts, "update_progress_artifact", update)
    fifty_items()
    assert len(sent) == artifacts.PROGRESS_STEPS == 20
    assert sent[0] == 6.0 and sent[-1] == 100.0  # 3 of 50 items: the first twentieth passed
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["progress-steps-test"]))
        )
    assert artifact.type == "progress" and artifact.data == 100
