import pytest

from mlnb.capture.track_line import parse_track_line
from mlnb.errors import InvalidParameterError
from mlnb.projects.convert import parse_track_line as exporter_parse


def test_full_line_parses_into_options():
    options = parse_track_line(
        '"my run" -e vision --params lr,epochs --metrics acc --tags team=cv stage=dev '
        "--nested --no-capture files,stdout")
    assert options.run_name == "my run"
    assert options.experiment == "vision"
    assert options.params == ["lr", "epochs"] and options.metrics == ["acc"]
    assert options.tags == {"team": "cv", "stage": "dev"}
    assert options.nested and options.no_capture == {"files", "stdout"}
    assert not options.wants("files") and options.wants("params")


@pytest.mark.parametrize(("line", "message"), [
    ("--bogus", "unrecognized arguments: --bogus"),
    ("--tags novalue", "KEY=VALUE"),
    ("--no-capture plots", "unknown part 'plots'"),
    ("--params 'a b'", "comma-separated variable names"),
    ("'unclosed", "cannot read"),
])
def test_bad_lines_name_the_problem(line, message):
    with pytest.raises(InvalidParameterError, match=message):
        parse_track_line(line)


def test_exporter_uses_the_same_grammar_and_names_the_cell():
    assert exporter_parse("%%track fit --no-capture all", 3).no_capture >= {"params", "files"}
    with pytest.raises(InvalidParameterError, match=r"Cell 4: %%track: unrecognized arguments"):
        exporter_parse("%%track fit --bogus", 4)


@pytest.mark.parametrize(("line", "message"), [
    ('--experiment ""', "experiment name"),
    ("-e '  '", "experiment name"),
    ("''", "run name"),
])
def test_empty_names_are_refused(line, message):
    with pytest.raises(InvalidParameterError, match=message):
        parse_track_line(line)
