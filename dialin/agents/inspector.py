"""The inspector role: a tool-calling chat model and its prompt.

The model is LangChain's ``ChatOpenAI`` pointed at the endpoint the ``inspector`` role
names (any OpenAI-compatible server: vLLM, llama.cpp, OpenAI). The prompt is the
``inspector`` prompt file (or the one the role names): its system section, plus one line
about the run; each question is rendered through its user section. Every model call is
logged to the store like any other role call (stage ``chat``).
"""

from __future__ import annotations

import json
import os
import re
import string
import time
import uuid
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage

from dialin.config import Config
from dialin.errors import ConfigError, EndpointUnreachable
from dialin.prompts import Prompt, load_prompt
from dialin.inspect.run_view import RunView

ROLE = "inspector"


def inspector_role(config: Config) -> Any:
    if ROLE not in config.roles:
        raise ConfigError("roles.inspector is not configured: add it to the config (see configs/local.yaml); "
                          "slash commands work without it (/help)")
    return config.roles[ROLE]


def make_model(config: Config, base_urls: dict[str, str] | None = None) -> BaseChatModel:
    """``ChatOpenAI`` for the inspector role's endpoint and model."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise ConfigError("the inspector model needs langchain-openai: pip install langchain-openai") from None
    role = inspector_role(config)
    ep = config.endpoints[role.endpoint]
    url = (base_urls or {}).get(role.endpoint, ep.base_url)
    url = url[0] if isinstance(url, list) else url  # the inspector talks to the first of several servers
    if url == "auto":
        raise EndpointUnreachable(f"endpoint '{role.endpoint}' is 'auto' but no local server runs for it: "
                                  "start it with `dialin serve`")
    key = os.environ.get(ep.api_key_env, "") if ep.api_key_env else "not-needed"
    if ep.api_key_env and not key:
        raise ConfigError(f"endpoint '{role.endpoint}' reads its API key from ${ep.api_key_env}, which is not set")
    return ChatOpenAI(base_url=url, model=role.model, api_key=key,  # type: ignore[arg-type]
                      temperature=role.temperature, max_tokens=role.max_tokens,  # type: ignore[call-arg]
                      timeout=ep.timeout_s, max_retries=ep.max_retries, extra_body=role.extra_body or None)


def load_inspector_prompt(config: Config) -> Prompt:
    return load_prompt(config.roles[ROLE].prompt if ROLE in config.roles else ROLE)


def run_line(view: RunView) -> str:
    r = view.result()
    return (f"The run: {view.run_id}, {len(r['clusters'])} clusters over {len(r['unique_texts'])} unique "
            f"utterances ({len(r['unassigned'])} unassigned), revision {view.latest_revision()}.")


def model_messages(prompt: Prompt, view: RunView, messages: list[AnyMessage]) -> list[BaseMessage]:
    """System prompt + run line, then the conversation with each question put through the user template."""
    out: list[BaseMessage] = [SystemMessage(f"{prompt.system}\n\n{run_line(view)}".strip())]
    template = string.Template(prompt.user)
    for m in messages:
        if isinstance(m, HumanMessage) and isinstance(m.content, str):
            out.append(HumanMessage(template.safe_substitute(question=m.content), id=m.id))
        else:
            out.append(m)
    return out


def log_call(view: RunView, prompt: Prompt, model: BaseChatModel, sent: list[BaseMessage], answer: AIMessage,
             started: float, error: str | None = None) -> None:
    """One row in the store's call log, like every other role call."""
    role = view.config.roles.get(ROLE)
    usage = (answer.usage_metadata or {}) if answer is not None else {}
    response = None
    if answer is not None:
        calls = [{"name": t["name"], "args": t["args"]} for t in answer.tool_calls]
        response = answer.content if not calls else json.dumps({"content": answer.content, "tool_calls": calls},
                                                               ensure_ascii=False)
    view.store.log_call(run_id=view.run_id, stage="chat", role=ROLE, endpoint=role.endpoint if role else None,
                        model=getattr(model, "model_name", None) or (role.model if role else type(model).__name__),
                        prompt_id=prompt.id, prompt_hash=prompt.hash,
                        messages=[_dump(m) for m in sent],
                        response=response if isinstance(response, (str, type(None))) else str(response),
                        prompt_tokens=usage.get("input_tokens", 0), completion_tokens=usage.get("output_tokens", 0),
                        latency_ms=(time.perf_counter() - started) * 1000, cached=0, error=error)


def _dump(m: BaseMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.type, "content": m.content}
    if isinstance(m, AIMessage) and m.tool_calls:
        out["tool_calls"] = [{"name": t["name"], "args": t["args"]} for t in m.tool_calls]
    return out


RECOVERED = "dialin_recovered_tool_calls"
"""Set in ``additional_kwargs`` of an answer whose tool calls were read from its text."""
_FENCES = re.compile(r"^\s*(?:```(?:json)?|<tool_call>)\s*|\s*(?:```|</tool_call>)\s*$")


def recover_tool_calls(answer: AIMessage, tool_names: set[str]) -> AIMessage:
    """A tool call written as text becomes a real one.

    Small local models behind servers that do not parse tool calls (llama.cpp without a
    function-calling chat format) answer ``{"name": "list_clusters", "arguments": {...}}``
    (or a list of them, or one per line, maybe in a ``<tool_call>`` tag or a code fence) as
    plain content. Only an answer that is nothing but such JSON, naming known tools, is
    converted; repeated calls are kept once.
    """
    if answer.tool_calls or not isinstance(answer.content, str) or not answer.content.strip():
        return answer
    items = _json_items(_FENCES.sub("", answer.content.strip()))
    if not items:
        return answer
    calls: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or item.get("name") not in tool_names:
            return answer
        args = item.get("arguments", item.get("parameters", item.get("args", {})))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                return answer
        if not isinstance(args, dict):
            return answer
        key = call_key(item["name"], args)
        if key in seen:
            continue
        seen.add(key)
        calls.append({"name": item["name"], "args": args, "id": f"call-{uuid.uuid4().hex[:12]}", "type": "tool_call"})
    # the text stays as content: llama.cpp's server refuses an assistant message whose content is null
    return AIMessage(content=answer.content, tool_calls=calls, id=answer.id, additional_kwargs={RECOVERED: True},
                     response_metadata=answer.response_metadata, usage_metadata=answer.usage_metadata)


def _json_items(text: str) -> list[Any] | None:
    """The JSON value(s) of a text: one value (a list is its items), or one value per line."""
    try:
        parsed = json.loads(text)
        return parsed if isinstance(parsed, list) else [parsed]
    except ValueError:
        pass
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        return None


def call_key(name: str, args: dict[str, Any]) -> str:
    """Identity of a tool call: its name and arguments."""
    return name + json.dumps(args, sort_keys=True, default=str)
