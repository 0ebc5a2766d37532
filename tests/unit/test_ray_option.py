"""`dialin run --ray` without Ray installed says how to install it (no traceback)."""

import sys

from click.testing import CliRunner

from dialin.cli import main


def test_ray_missing_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    data = tmp_path / "d.txt"
    data.write_text("hello\nbye\n")
    res = CliRunner().invoke(main, ["run", str(data), "--ray"])
    assert res.exit_code != 0
    assert "pip install 'dialin[ray]'" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["run", str(data), "--ray", "auto"])
    assert "pip install 'dialin[ray]'" in res.output
