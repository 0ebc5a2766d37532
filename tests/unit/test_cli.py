import json

from click.testing import CliRunner

from dialin.cli import main


def test_run_on_missing_file_exits_2_with_the_fix(tmp_path):
    res = CliRunner().invoke(main, ["run", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2
    assert "input file not found" in res.output


def test_run_on_wrong_column_names_the_columns(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("utterance\nhello\n")
    res = CliRunner().invoke(main, ["run", str(f)])
    assert res.exit_code == 2 and "pass --text-col with one of them" in res.output


def test_config_show_json_and_bad_config(tmp_path):
    res = CliRunner().invoke(main, ["config", "show", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.output)["roles"]["judge"]["prompt"] == "judge"
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: {max_iterations: -1}\n")
    res = CliRunner().invoke(main, ["config", "show", "--config", str(bad)])
    assert res.exit_code == 2 and "method.max_iterations" in res.output


def test_config_show_reflects_env_overrides(monkeypatch):
    monkeypatch.setenv("DIALIN__ROLES__JUDGE__MODEL", "judge-v7")
    res = CliRunner().invoke(main, ["config", "show"])
    assert "judge-v7" in res.output


def test_resume_unknown_run_is_a_clear_error(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text("hello\nbye\n")
    res = CliRunner().invoke(main, ["run", str(f), "--resume", "no-such-run"])
    assert res.exit_code == 2 and "run 'no-such-run' is not in the store" in res.output
