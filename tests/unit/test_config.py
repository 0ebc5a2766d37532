from pathlib import Path

import pytest
import yaml

from dialin.config import Config, dump_config, load_config
from dialin.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_local_config():
    shipped = load_config(ROOT / "configs" / "local.yaml")
    assert shipped == Config()


def test_vllm_example_has_lora_roles_and_a_crowd_of_three():
    config = load_config(ROOT / "configs" / "vllm.yaml")
    assert config.endpoints[config.roles["judge"].endpoint].backend == "vllm"
    assert config.roles["judge"].model == "judge" and config.roles["namer"].model == "namer"
    assert len(config.crowd.members) == 3
    assert config.judges() == config.crowd.members


def test_env_overrides_nest_and_parse(tmp_path):
    config = load_config(environ={"DIALIN__ROLES__JUDGE__MODEL": "judge-v2", "DIALIN__METHOD__MAX_ITERATIONS": "2",
                                  "DIALIN__METHOD__MERGE": "false"})
    assert config.roles["judge"].model == "judge-v2"
    assert config.method.max_iterations == 2 and config.method.merge is False


def test_swapping_the_judge_is_a_config_edit(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump({
        "endpoints": {"gpu": {"base_url": "http://10.0.0.1:8000/v1", "backend": "vllm"}},
        "roles": {"judge": {"endpoint": "gpu", "model": "judge-lora", "prompt": "judge"},
                  "namer": {"endpoint": "gpu", "model": "namer", "prompt": "namer"}},
    }))
    config = load_config(f)
    assert config.roles["judge"].model == "judge-lora"
    assert "local" not in config.endpoints


@pytest.mark.parametrize("data, needle", [
    ({"method": {"max_iterations": 0}}, "method.max_iterations"),
    ({"method": {"clusterng": "kmeans"}}, "unknown key"),
    ({"roles": {"judge": {"endpoint": "nowhere", "model": "m", "prompt": "judge"},
                "namer": {"endpoint": "nowhere", "model": "m", "prompt": "namer"}}}, "'nowhere' is not in endpoints"),
    ({"crowd": {"members": ["ghost"]}}, "crowd member 'ghost' is not a role"),
    ({"endpoints": {"local": {"base_url": "auto"}}}, "needs model_path"),
])
def test_bad_config_names_the_problem(tmp_path, data, needle):
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert needle in str(err.value)
    assert str(f) in str(err.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    f = tmp_path / "broken.yaml"
    f.write_text("roles: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(f)


def test_dump_round_trips():
    config = Config()
    assert Config.model_validate(yaml.safe_load(dump_config(config))) == config
