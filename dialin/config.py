"""The one typed configuration: YAML file + environment overrides, validated.

Defaults are the embedded local setup (``configs/local.yaml`` spells them out).
Environment overrides use ``DIALIN__`` and ``__`` for nesting, e.g.
``DIALIN__ROLES__JUDGE__MODEL=judge-v2`` or ``DIALIN__METHOD__MAX_ITERATIONS=2``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dialin.errors import ConfigError
from dialin.llm.backends import BackendName
from dialin.tools.clustering import ClusterMethod

ENV_PREFIX = "DIALIN__"
REQUIRED_ROLES = ("judge", "namer")
JUDGE_ANSWERS = ("good", "bad")
"""What a judge may answer (``dialin.agents.judge.CHOICES``)."""
JUDGE_ROLES = ("judge", "evaluator")
"""Roles that answer good/bad besides the crowd members and any role with a judge prompt."""


def min_answer_tokens(answers: tuple[str, ...] = JUDGE_ANSWERS) -> int:
    """Tokens the longest allowed answer can take in any tokenizer: one per UTF-8 byte at worst."""
    return max(len(a.encode()) for a in answers)


def dialin_home() -> Path:
    """Where the store, caches and bundled models live (``$DIALIN_HOME`` or ``~/.dialin``)."""
    return Path(os.environ.get("DIALIN_HOME") or Path.home() / ".dialin").expanduser()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class EmbedderConfig(_Strict):
    kind: Literal["sentence-transformers", "use", "toy"] = "sentence-transformers"
    """Backend: sentence-transformers, the multilingual USE package, or a toy hash embedder."""
    model: str = "bundled:all-MiniLM-L6-v2"
    """A local folder, a hub name (needs network), or ``bundled:all-MiniLM-L6-v2``."""
    batch_size: int = Field(64, ge=1)
    backend: Literal["auto", "onnx", "torch"] = "auto"
    """sentence-transformers only: ``auto`` runs a local mean-pooled model through onnxruntime when installed."""
    cache: bool = True
    """Cache vectors on disk, keyed by model and text hash."""
    progress: bool = True


class EndpointConfig(_Strict):
    base_url: str | list[str] = "auto"
    """An OpenAI-compatible URL (``http://host:port/v1``), ``auto`` (dialin serves it locally), or a list of
    URLs (or one comma-separated string): one endpoint over several servers, load-balanced, a failed call
    tried on another (dialin/llm/server_pool.py)."""
    backend: BackendName = "llamacpp"
    model_path: str | None = None
    """For ``auto``: a GGUF path or ``bundled:qwen2.5-coder-0.5b`` / ``bundled:smollm2-135m``; with ``backend: vllm``
    also a Hugging Face model folder (a GGUF is de-quantised once into ``$DIALIN_HOME/models/hf``)."""
    hf_repo: str | None = None
    """For ``auto`` with network: a hub repo id holding the GGUF (``hf_file`` names it)."""
    hf_file: str | None = None
    api_key_env: str | None = None
    """Name of the environment variable that holds the API key (never the key itself)."""
    timeout_s: float = Field(120.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    max_concurrency: int = Field(4, ge=1)
    max_retries: int = Field(3, ge=0)
    n_ctx: int = Field(4096, ge=256)
    n_threads: int | None = None
    server_args: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """For ``auto``: extra llama_cpp.server flags, e.g. ``{logits_all: false}`` (faster, no logprobs); with
    ``backend: vllm`` extra vLLM server flags (``{max_num_seqs: 8}`` -> ``--max-num-seqs 8``)."""
    adapters: dict[str, str] = Field(default_factory=dict)
    """For ``auto`` with ``backend: vllm``: LoRA adapters served by name, ``{judge: PATH, namer: PATH}`` (a peft
    folder, or the OUT folder of ``dialin finetune``); a role picks one with ``model: judge``."""

    @property
    def servers(self) -> int:
        """How many servers the endpoint has (a list of base URLs: each gets ``max_concurrency`` calls at once)."""
        return len(self.base_url) if isinstance(self.base_url, list) else 1

    @model_validator(mode="after")
    def _auto_needs_model(self) -> "EndpointConfig":
        if isinstance(self.base_url, str) and "," in self.base_url:
            self.base_url = [u.strip() for u in self.base_url.split(",") if u.strip()]
        if isinstance(self.base_url, list):
            if not self.base_url or "auto" in self.base_url:
                raise ValueError("a list of base URLs needs at least one URL and no 'auto' (auto serves one model)")
            self.base_url = self.base_url[0] if len(self.base_url) == 1 else self.base_url
        if self.base_url == "auto" and not (self.model_path or self.hf_repo):
            raise ValueError("base_url 'auto' needs model_path (a GGUF path or bundled:NAME) or hf_repo")
        if self.base_url == "auto" and self.backend == "openai":
            raise ValueError("base_url 'auto' starts a local server: set backend: llamacpp or vllm")
        if self.adapters and not (self.base_url == "auto" and self.backend == "vllm"):
            raise ValueError("adapters are served by a local vLLM server: set base_url: auto and backend: vllm "
                             "(for llama.cpp use server_args.lora_path)")
        return self


class RoleConfig(_Strict):
    endpoint: str
    """Name of an entry in ``endpoints``."""
    model: str
    """Model name sent as ``model`` (a vLLM LoRA adapter name selects that adapter)."""
    prompt: str
    """Prompt id (a file in dialin/prompts without ``.md``) or a path to a prompt file."""
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(64, ge=1)
    top_logprobs: int = Field(20, ge=0, le=20)
    logprobs: bool = True
    """Ask for logprobs (P(label)); endpoints that refuse are retried without."""
    extra_body: dict[str, Any] = Field(default_factory=dict)
    tool_calling: bool | None = None
    """Inspector only: the model leads the chat with tool calls (None: yes when the endpoint's backend is
    vllm or openai; a small llama.cpp model cannot, so questions are answered from the run first)."""


class CrowdConfig(_Strict):
    members: list[str] = Field(default_factory=list)
    """Role names (keys of ``roles``) that vote; empty = the judge alone."""
    aggregation: Literal["majority", "weighted", "dawid_skene", "glad"] = "majority"
    """dawid_skene / glad (extra ``crowd``): fitted on all the run's crowd verdicts after each iteration's judging."""
    control_rate: float = Field(0.0, ge=0.0, lt=1.0)
    """Share of the judges' queue that is control tasks (known answer): 0 = none. See dialin.agents.control."""
    smoothing: float = Field(10.0, ge=0.0)
    """dawid_skene: pseudo-counts pulling each member's two error rates to its accuracy (dialin.agents.crowd_em;
    0 = crowd-kit's plain fit); control tasks' known answers anchor either fit."""

    @model_validator(mode="after")
    def _crowdkit_installed(self) -> "CrowdConfig":
        from dialin.agents.crowd_fit import crowdkit_missing
        if missing := crowdkit_missing(self.aggregation):
            raise ValueError(missing)
        return self


class MethodConfig(_Strict):
    clustering: ClusterMethod = "agglomerative"  # Ward tree cut at every K | kmeans | gmm | graph: Louvain, kNN
    k_candidates: list[int] | None = None
    """First iteration's K values; default: a grid around sqrt(n/2)."""
    k_grid_size: int = Field(3, ge=1)
    use_k_predictor: bool = True
    """From iteration 2 on, ask the k_predictor role (when configured) which K to try."""
    max_iterations: int = Field(3, ge=1)
    min_unassigned: int = Field(20, ge=0)
    """Stop when fewer sentences are left unassigned."""
    sampling: Literal["random", "convex"] = "convex"
    n_sentences: int = Field(10, ge=2)
    score: Literal["ratio", "balanced"] = "ratio"
    """K choice: the paper's sentence ratio, or a variant that resists over-fragmentation."""
    cascade_scorer: Literal["cohesion", "model", "pairs"] = "model"
    """What cascade_low/high threshold: the shipped P(good) model (dialin/tools/coherence.py), raw cohesion, or
    a pair judge's mean P(same intent) over the cluster's pairs (``pair_model``, dialin/tools/pair_judge.py)."""
    pair_model: str | None = None
    """The pair judge folder for ``cascade_scorer: pairs``: OUT/model of ``dialin finetune pairs``."""
    coherence_model: str | None = None
    """A coherence model JSON for ``cascade_scorer: model`` (``dialin finetune embedder`` writes one for its
    embedder); None = the shipped one, fitted on all-MiniLM-L6-v2 vectors."""
    cascade_low: float | None = Field(0.35, ge=0.0, le=1.0)
    """A score at or below this is judged bad without the LLM (None = always ask the LLM)."""
    cascade_high: float | None = Field(0.85, ge=0.0, le=1.0)
    """A score at or above this is judged good without the LLM (None = always ask the LLM)."""
    judge_budget: int | None = 24
    """Most LLM judgments per iteration; beyond it the cascade decides by the score (None = no cap)."""
    grounded_names: bool = True
    """Names from a known verb + the cluster's own key words (for small namers; off for strong ones)."""
    naming: Literal["llm", "select", "keywords"] = "keywords"
    """llm: the namer's answer; select: the namer's answer or a key-word objective, whichever embeds nearest the
    cluster; keywords: key-word objectives only, no LLM call (dialin/tools/naming.py)."""
    language: str = "auto"
    """The corpus's language: auto (detected: `dialin run` says what it found), en, zh, es, mixed, ...; picks the
    key-word tokenizer, and for a language other than English the multilingual embedder (dialin/tools/language.py)."""
    merge: bool = True
    merge_distance: Literal["geodesic", "cosine"] = "geodesic"
    merge_gate: Literal["probabilistic", "deterministic"] = "probabilistic"
    merge_theta: float = Field(0.8, gt=0.0, le=3.1416)
    """Geodesic distance (radians, 0 < theta <= pi) under which two names may merge."""
    merge_tau: float = Field(0.7, ge=0.0, le=1.0)
    roles: Literal["auto", "column", "infer", "off"] = "auto"
    """auto: the role column when given, else off."""
    leftover_similarity: float = Field(0.4, ge=-1.0, le=1.0)
    """A leftover joins its nearest good cluster when cosine to its centroid is at least this."""
    loop: Literal["ratio", "treecut"] = "ratio"
    """ratio: the paper's loop (a K grid per iteration, the K of best good/bad ratio). treecut: one Ward
    hierarchy, cut top-down by the judge (a good node is kept, a bad one split), then judge-verified merges
    of nearest clusters and the rest reassigned to the nearest kept cluster (dialin/graphs/discovery/treecut.py)."""
    hierarchy: Literal["auto", "exact", "micro", "graph"] = "auto"
    """The tree both loops cut: Ward, exact up to exact_limit, else on micro-clusters; graph: Ward in kNN communities."""
    exact_limit: int = Field(5000, ge=2)
    micro_clusters: int = Field(3000, ge=2)
    tree_start: float = Field(2.0, gt=0.0)
    """treecut: the cut starts at tree_start x sqrt(n/2) clusters (the nodes above are mixtures: a call each)."""
    min_cluster_size: int = Field(5, ge=1)
    """treecut: a node smaller than this is not judged; its sentences are reassigned at the end."""
    merge_rounds: int = Field(3, ge=0)
    """treecut: rounds of judge-verified merges (each cluster's nearest neighbour, one merge per cluster per round)."""
    merge_checks: int = Field(1, ge=1)
    """treecut: independent mixed samples that must all be judged good before two clusters merge."""
    judge_budget_total: int | None = Field(None, ge=0)
    """treecut: most LLM judge calls of the whole run (nodes and merge checks, each crowd vote counts); beyond it
    the cascade's score decides nodes and merges stop (None = no cap). judge_budget caps one round."""
    dissolve_below: float = Field(0.0, ge=0.0, lt=1.0)
    """treecut: after the merges, clusters under this share of the median size are dissolved into the nearest
    (0: none). Removes fragments, and real small intents too: keep it low on unbalanced corpora."""
    reassign_similarity: float = -1.0
    """treecut: what the judge left out joins the nearest kept cluster at this cosine or more (-1: all join)."""
    review: bool = False
    """Pause for a human on uncertain verdicts and proposed merges."""
    review_band: tuple[float, float] = (0.35, 0.65)
    review_budget: int | None = Field(None, ge=0)
    """Decisions a person will make over the run (turns review on): the verdicts and merges whose flip
    changes the most rows, least confident first (dialin.tools.review_priority). None: every uncertain item."""
    review_order: Literal["priority", "random"] = "priority"
    """Order of the budgeted review: random is the baseline for measurement."""
    seed: int = 0

    @model_validator(mode="after")
    def _ranges(self) -> "MethodConfig":
        if self.cascade_low is not None and self.cascade_high is not None and self.cascade_low > self.cascade_high:
            raise ValueError(f"method.cascade_low {self.cascade_low} is above method.cascade_high "
                             f"{self.cascade_high}: set low <= high (both between 0 and 1)")
        lo, hi = self.review_band
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"method.review_band {list(self.review_band)} must be [low, high] with "
                             "0 <= low <= high <= 1")
        if self.k_candidates is not None and any(k < 1 for k in self.k_candidates):
            raise ValueError(f"method.k_candidates {self.k_candidates}: every K must be at least 1")
        return self

    @model_validator(mode="after")
    def _coherence_model_exists(self) -> "MethodConfig":
        if self.coherence_model and not Path(self.coherence_model).expanduser().is_file():
            raise ValueError(f"method.coherence_model {self.coherence_model} is not a file: point it at the "
                             "coherence_model.json `dialin finetune embedder` wrote, or remove it for the shipped one")
        if self.cascade_scorer == "pairs" and not self.pair_model:
            raise ValueError("method.cascade_scorer pairs needs method.pair_model: the OUT/model folder "
                             "`dialin finetune pairs` wrote (or use cascade_scorer model)")
        if self.pair_model and not (Path(self.pair_model).expanduser() / "config.json").is_file():
            raise ValueError(f"method.pair_model {self.pair_model} is not a pair-judge folder (no config.json): "
                             "point it at OUT/model from `dialin finetune pairs`")
        return self


def _default_endpoints() -> dict[str, EndpointConfig]:
    # logits_all false: 3-5x faster prompts on CPU (measured), at the price of no logprobs locally
    return {"local": EndpointConfig(base_url="auto", backend="llamacpp", model_path="bundled:qwen2.5-coder-0.5b",
                                    max_concurrency=1, server_args={"logits_all": False})}


def _default_roles() -> dict[str, RoleConfig]:
    return {
        "judge": RoleConfig(endpoint="local", model="qwen2.5-coder-0.5b", prompt="judge", max_tokens=4, logprobs=False),
        "namer": RoleConfig(endpoint="local", model="qwen2.5-coder-0.5b", prompt="namer", max_tokens=24, logprobs=False),
        "k_predictor": RoleConfig(endpoint="local", model="qwen2.5-coder-0.5b", prompt="k_predictor",
                                  max_tokens=64, logprobs=False),
        "inspector": RoleConfig(endpoint="local", model="qwen2.5-coder-0.5b", prompt="inspector",
                                max_tokens=256, logprobs=False, temperature=0.2),
    }


class Config(_Strict):
    store: str | None = None
    """SQLite file of runs, the LLM call log and cache (default: $DIALIN_HOME/dialin.db)."""
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    endpoints: dict[str, EndpointConfig] = Field(default_factory=_default_endpoints)
    roles: dict[str, RoleConfig] = Field(default_factory=_default_roles)
    crowd: CrowdConfig = Field(default_factory=CrowdConfig)
    method: MethodConfig = Field(default_factory=MethodConfig)

    @model_validator(mode="after")
    def _references(self) -> "Config":
        for name in REQUIRED_ROLES:
            if name not in self.roles:
                raise ValueError(f"roles.{name} is missing: every config needs a judge and a namer")
        for name, role in self.roles.items():
            if role.endpoint not in self.endpoints:
                known = ", ".join(sorted(self.endpoints)) or "none"
                raise ValueError(f"roles.{name}.endpoint '{role.endpoint}' is not in endpoints (known: {known})")
        for name, role in self.roles.items():
            ep = self.endpoints[role.endpoint]
            if role.logprobs and ep.backend == "llamacpp" and ep.server_args.get("logits_all") is False:
                raise ValueError(f"roles.{name}.logprobs is true but endpoint '{role.endpoint}' runs with "
                                 "server_args.logits_all: false, which gives no logprobs: set one of them")
        for member in self.crowd.members:
            if member not in self.roles:
                raise ValueError(f"crowd member '{member}' is not a role: add it under roles")
        need = min_answer_tokens()
        for name, role in self.roles.items():
            judges = name in JUDGE_ROLES or name in self.crowd.members or Path(role.prompt).stem.startswith("judge")
            if judges and role.max_tokens < need:
                longest = max(JUDGE_ANSWERS, key=lambda a: len(a.encode()))
                raise ValueError(f"roles.{name}.max_tokens {role.max_tokens} can cut the answer '{longest}' short "
                                 f"(up to {need} tokens in a byte-level tokenizer; SmolLM2 answered 'goo'): set "
                                 f"roles.{name}.max_tokens to at least {need}")
        return self

    def store_path(self) -> Path:
        return Path(self.store).expanduser() if self.store else dialin_home() / "dialin.db"

    def judges(self) -> list[str]:
        """The roles that vote on coherence: the crowd, or the judge alone."""
        return list(self.crowd.members) or ["judge"]


def _set_path(data: dict[str, Any], keys: list[str], value: Any) -> None:
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"environment override {'__'.join(keys)}: {key} is not a section")
    node[keys[-1]] = value


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """``DIALIN__A__B=value`` -> ``{"a": {"b": value}}``; values parsed as YAML scalars."""
    environ = dict(os.environ if environ is None else environ)
    out: dict[str, Any] = {}
    for key, raw in sorted(environ.items()):
        if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX):
            keys = [k.lower() for k in key[len(ENV_PREFIX):].split("__")]
            _set_path(out, keys, yaml.safe_load(raw) if raw else raw)
    return out


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _env_source(loc: tuple[Any, ...], env: dict[str, Any]) -> str | None:
    """The DIALIN__ variable that set the value at ``loc``, if one did."""
    node: Any = env
    for depth, key in enumerate(loc):
        if not isinstance(node, dict) or str(key) not in node:
            return None
        node = node[str(key)]
        if not isinstance(node, dict):
            return ENV_PREFIX + "__".join(str(k).upper() for k in loc[:depth + 1])
    return None


def _format_errors(err: ValidationError, source: str, env: dict[str, Any] | None = None) -> str:
    lines = [f"invalid configuration ({source}):"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key: check its spelling against configs/local.yaml"
        var = _env_source(tuple(e["loc"]), env or {})
        lines.append(f"  - {loc}: {msg}" + (f" (set by the environment variable {var}: fix or unset it)"
                                                if var else ""))
    lines.append("Fix the file (see configs/local.yaml for every key) or the DIALIN__ environment override.")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                environ: dict[str, str] | None = None) -> Config:
    """Load a config: file (or defaults) < environment < explicit overrides."""
    data: dict[str, Any] = json.loads(Config().model_dump_json())
    source = "built-in defaults"
    path = path or (environ if environ is not None else os.environ).get("DIALIN_CONFIG")
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}. Pass an existing YAML file "
                              "(e.g. configs/local.yaml) or omit --config for the defaults.")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {p} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must hold a mapping at the top level")
        data = loaded or {}
        source = str(p)
    env = env_overrides(environ)
    data = _deep_merge(data, env)
    data = _deep_merge(data, overrides or {})
    if env:
        source += " + DIALIN__ environment overrides"
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source, env)) from None


def dump_config(config: Config) -> str:
    """The effective config as YAML (what ``dialin config show`` prints)."""
    return yaml.safe_dump(json.loads(config.model_dump_json()), sort_keys=False)
