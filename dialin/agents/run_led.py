"""Who leads the chat, and a turn led by the run.

``model_leads``: a tool-calling inspector (a vLLM or OpenAI-compatible service, or a
role with ``tool_calling: true``) drives the tools itself. Otherwise (the embedded
llama.cpp default) ``answer_turn`` answers: the question router picks one tool call;
a read-only call is answered at once in plain text; an edit becomes a tool call that
the graph's tool node runs, which asks the person to confirm; after it, a short
sentence closes the turn. The local model only picks among candidate calls (a number,
constrained by a grammar), through the LLM layer (logged and cached). Nothing the user
sees is tool-call text.
"""

from __future__ import annotations

import re
import uuid
from typing import Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage

from dialin.config import Config
from dialin.errors import DialinError
from dialin.inspect.question_router import EDITS, NOT_UNDERSTOOD, Call, Chooser, read_tools, route
from dialin.inspect.run_view import RunView

Leader = Literal["auto", "model", "run"]
ROUTED = "dialin_routed_call"
"""Set in ``additional_kwargs`` of an answer the run gave: the call that produced it."""


def model_leads(config: Config, leader: Leader = "auto") -> bool:
    if leader != "auto":
        return leader == "model"
    role = config.roles.get("inspector")
    if role is None:
        return False
    if role.tool_calling is not None:
        return role.tool_calling
    return config.endpoints[role.endpoint].backend in ("vllm", "openai")


_CALL_TEXT = re.compile(r"<tool_call>|\"(?:name|function)\"\s*:\s*\"\w+\"[\s\S]*\"(?:arguments|parameters|args)\"\s*:"
                        r"|^\s*```(?:json)?\s*[\[{]|^\s*\{\s*\"\w+\"\s*:", re.MULTILINE)


def looks_like_tool_call(text: str) -> bool:
    """Text that is (or carries) a tool call or raw JSON: never shown to the person."""
    return bool(_CALL_TEXT.search(text or ""))


def last_question(messages: list[AnyMessage]) -> str | None:
    for m in reversed(messages):
        if isinstance(m, HumanMessage) and isinstance(m.content, str):
            return m.content
    return None


def answer_call(view: RunView, call: Call) -> str:
    """Run a read-only call; a problem comes back as a plain sentence."""
    from pydantic import ValidationError

    if call.tool == "undo":
        from dialin.inspect.inspect_edits import undo_edit

        try:
            return undo_edit(view)
        except DialinError as exc:
            return f"error: {exc}"
    try:
        return read_tools()[call.tool](view, **call.args)
    except DialinError as exc:
        return f"error: {exc}"
    except (ValidationError, TypeError, ValueError) as exc:
        return f"error: could not look that up ({exc}); /help lists the commands"


def answer_turn(messages: list[AnyMessage], view: RunView, choose: Chooser | None = None) -> AIMessage:
    """The next message of a turn the run leads."""
    last = messages[-1] if messages else None
    if isinstance(last, ToolMessage):  # an edit ran (confirmed or not): close the turn
        text = str(last.content)
        if text.startswith("done:"):
            return AIMessage("Saved as a new revision; /undo reverts it.")
        if text.startswith("cancelled:"):
            return AIMessage("Nothing was saved.")
        return AIMessage("That edit did not happen: " + text.removeprefix("error: "))
    question = last_question(messages)
    if not question:
        return AIMessage(NOT_UNDERSTOOD)
    try:
        call = route(question, view, choose)
    except DialinError as exc:
        return AIMessage(f"error: {exc}")
    if call is None:
        return AIMessage(NOT_UNDERSTOOD)
    meta = {ROUTED: {"tool": call.tool, "args": call.args, "via": call.via}}
    if call.tool in EDITS:
        return AIMessage("", tool_calls=[{"name": call.tool, "args": call.args, "id": f"call-{uuid.uuid4().hex[:12]}",
                                          "type": "tool_call"}], additional_kwargs=meta)
    return AIMessage(answer_call(view, call), additional_kwargs=meta)


def clean_model_answer(answer: AIMessage, messages: list[AnyMessage], view: RunView) -> AIMessage:
    """A strong model's final answer with no tool-call text left in it.

    Calls it wrote as text and that ``recover_tool_calls`` could not read (an unknown
    tool, broken JSON) are not shown: the question is answered from the run instead,
    or refused with a plain sentence.
    """
    if answer.tool_calls or not isinstance(answer.content, str) or not looks_like_tool_call(answer.content):
        return answer
    question = last_question(messages)
    routed = answer_turn([HumanMessage(question)], view) if question else None
    if routed is not None and not routed.tool_calls and routed.content != NOT_UNDERSTOOD:
        return AIMessage(routed.content, id=answer.id, additional_kwargs=routed.additional_kwargs)
    return AIMessage("The model answered with a tool call I could not run; nothing was done. "
                     "Ask again, or use a /command (/help).", id=answer.id)


def make_chooser(view: RunView) -> Chooser:
    """The inspector model picks an option by number (a grammar-constrained choice)."""
    from dialin.llm.router import LLMRouter

    def choose(question: str, options: list[str]) -> int | None:
        config = choice_config(view.config)
        router = LLMRouter(config, view.store, run_id=view.run_id, base_urls=view.urls(),
                           client_factory=view.client_factory)
        numbers = [str(i + 1) for i in range(len(options))]
        listed = "\n".join(f"{n}. {o}" for n, o in zip(numbers, options))
        try:
            out = router.complete_sync(CHOICE_ROLE, {"question": question, "options": listed}, choices=numbers,
                                       stage="chat")
        except DialinError:
            return None
        return numbers.index(out.parsed) if out.parsed in numbers else None

    return choose


CHOICE_ROLE = "inspector_choice"


CHOICE_TIMEOUT_S = 8.0
"""How long the model may take to pick (no retry): past it, the best semantic candidate answers, so an
answer stays within seconds on a busy CPU."""


def choice_config(config: Config) -> Config:
    """The config with a role for the choice: the inspector's model, the choice prompt, one short answer,
    on its endpoint with a short timeout and no retries."""
    role = config.roles["inspector"].model_copy(update={"prompt": "inspector_choice", "max_tokens": 2,
                                                        "temperature": 0.0, "logprobs": False})
    ep = config.endpoints[role.endpoint].model_copy(update={"timeout_s": CHOICE_TIMEOUT_S, "max_retries": 0})
    return config.model_copy(update={"roles": {**config.roles, CHOICE_ROLE: role},
                                     "endpoints": {**config.endpoints, role.endpoint: ep}})



def warm_up(view: RunView) -> None:
    """Load what the first question would wait for: the embedder, the run's vectors, the example
    phrasings, and (for a local model) its server. ``dialin chat`` runs this while the person types."""
    from dialin.inspect.question_router import ranked_kinds

    try:
        view.vectors()
        ranked_kinds("how many clusters are there", view)
        if "inspector" in view.config.roles:
            view.urls()
    except Exception:  # noqa: BLE001 -- warming up is an optimisation: the question will say what is wrong
        return
