"""Demo experiment 3: multi-turn customer support chats of a mobile operator.

One trace per turn, grouped into conversations by the `mlflow.trace.session` metadata; each
trace's inputs carry the conversation so far. A turn may search the help centre (RETRIEVER),
call account tools through OpenAI tool calling (CHAT_MODEL → TOOL → CHAT_MODEL), and sometimes a
billing tool fails. Judges rated safety and tone on most turns and resolution on the last one; a
code scanner looked for other customers' personal data; a curator wrote expected facts.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from traces.demo.builder import (
    TOKEN_USAGE_ATTRIBUTE,
    DemoExperiment,
    SpanError,
    SpanNode,
    count_tokens,
    hex_id,
    python_traceback,
    token_id,
    token_usage,
)
from traces.demo.support_content import (
    ARTICLES,
    SCRIPT_WEIGHTS,
    SCRIPTS,
    SYSTEM_PROMPT,
    Customer,
    Turn,
    article,
    make_customer,
)
from traces.models import SourceType, SpanType

NAME = "Mobile support chat"
DESCRIPTION = (
    "Brightline's in-app support assistant for UK mobile customers: roaming, bills, SIMs, "
    "network problems, leaving and upgrades. Multi-turn conversations (one trace per turn, "
    "grouped by session) with help-centre search and account tools; gpt-4o."
)
TAGS = {"team": "customer-care-ai", "app": "support-assistant", "stage": "production"}
CONVERSATIONS = 36

MODEL = "gpt-4o-2024-08-06"
JUDGE = "gpt-4.1-judge"
SCANNER = "pii_scanner"
CURATOR = "curator"
PHONE = re.compile(r"07700 9\d{5}")

SAFE = (
    "The reply contains no harmful or offensive content and reveals nothing about other customers.",
    "Safe: the assistant only discussed the signed-in customer's own account.",
    "No safety concerns: polite, accurate and limited to the customer's own account.",
)
TONE = {
    "empathetic": (
        "The reply acknowledges the customer's situation before solving it, in a warm, plain tone."
    ),
    "neutral": "Polite and clear, matter-of-fact; appropriate for an informational question.",
    "curt": (
        "The reply is short and dismissive, and leaves the customer to sort the problem out alone."
    ),
}


def seed(demo: DemoExperiment) -> None:
    rng = demo.rng
    names = list(SCRIPTS)
    weights = [SCRIPT_WEIGHTS[name] for name in names]
    expectations_left = 6
    # Every script twice, the rest drawn by weight, in random order.
    scripts = names * 2 + rng.choices(names, weights=weights, k=CONVERSATIONS - 2 * len(names))
    rng.shuffle(scripts)
    seen: dict[str, int] = {}
    for start, script in zip(demo.request_times(CONVERSATIONS), scripts, strict=True):
        variant = seen[script] = seen.get(script, -1) + 1
        customer = make_customer(rng, start)
        turns = SCRIPTS[script](rng, customer, start, variant)
        session = f"conv-{token_id(rng, 10)}"
        channel = rng.choice(["ios", "android", "web"])
        history: list[dict[str, Any]] = []
        when = start
        for index, turn in enumerate(turns):
            draft = add_turn(demo, customer, (session, channel, script), index, history, turn, when)
            if draft.root.error:
                break  # the customer saw an error and left
            judge_turn(demo, draft, customer, turn, last=index == len(turns) - 1)
            if expectations_left and turn.expected_facts and rng.random() < 0.5:
                expectations_left -= 1
                demo.expectation(
                    draft, "expected_facts", list(turn.expected_facts), source_id=CURATOR
                )
            history += [
                {"role": "user", "content": turn.user},
                {"role": "assistant", "content": turn.reply},
            ]
            when = when + timedelta(
                seconds=(draft.root.end_ns - draft.root.start_ns) / 1e9 + rng.uniform(20, 240)
            )


def chat_span(
    demo: DemoExperiment,
    messages: list[dict[str, Any]],
    message: dict[str, Any],
    finish: str,
    tools: bool,
    when,
) -> SpanNode:
    rng = demo.rng
    inputs: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": json.loads(json.dumps(messages)),
        "temperature": 0.3,
    }
    if tools:
        inputs["tools"] = [{"type": "function", "function": {"name": name}} for name in TOOL_NAMES]
        inputs["tool_choice"] = "auto"
    prompt_tokens, completion_tokens = count_tokens(inputs), count_tokens(message)
    return SpanNode(
        "Completions",
        SpanType.CHAT_MODEL,
        inputs=inputs,
        outputs={
            "id": f"chatcmpl-{token_id(rng, 29)}",
            "object": "chat.completion",
            "created": int(when.timestamp()),
            "model": MODEL,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": f"fp_{hex_id(rng, 40)}",
        },
        duration_ms=demo.ms(350, 800) + completion_tokens * demo.ms(14, 26),
        attributes={
            TOKEN_USAGE_ATTRIBUTE: token_usage(prompt_tokens, completion_tokens),
            "mlflow.message.format": "openai",
            "mlflow.llm.model": MODEL,
            "mlflow.llm.provider": "openai",
        },
    )


TOOL_NAMES = [
    "lookup_account",
    "get_latest_bill",
    "add_bolt_on",
    "apply_credit",
    "block_premium_services",
    "check_network_status",
    "create_ticket",
    "send_esim_qr",
    "block_sim",
    "order_replacement_sim",
    "get_retention_offers",
]


def add_turn(
    demo: DemoExperiment,
    customer: Customer,
    conversation_id: tuple[str, str, str],
    index: int,
    history: list[dict[str, Any]],
    turn: Turn,
    when,
):
    rng = demo.rng
    conversation = [*history, {"role": "user", "content": turn.user}]
    root = SpanNode(
        "support_agent",
        SpanType.CHAIN,
        inputs={"messages": conversation},
        outputs={"messages": [{"role": "assistant", "content": turn.reply}]},
        duration_ms=demo.ms(1, 5),
    )
    system = SYSTEM_PROMPT
    if turn.kb:
        others = rng.sample([k for k in ARTICLES if k not in turn.kb], 2)
        documents = [article(k, round(rng.uniform(0.8, 0.93), 4)) for k in dict.fromkeys(turn.kb)]
        documents += [article(k, round(rng.uniform(0.45, 0.7), 4)) for k in others]
        root.add(
            SpanNode(
                "search_help_center",
                SpanType.RETRIEVER,
                inputs={"query": turn.user, "top_k": len(documents)},
                outputs=documents,
                duration_ms=demo.ms(40, 250),
            )
        )
        passages = "\n\n".join(f"[{d['metadata']['title']}] {d['page_content']}" for d in documents)
        system += f"\n\nHelp-centre passages:\n{passages}"
    messages = [{"role": "system", "content": system}, *conversation]

    if turn.tools:
        calls = [
            {
                "id": f"call_{token_id(rng, 24)}",
                "type": "function",
                "function": {"name": t.name, "arguments": json.dumps(t.arguments)},
            }
            for t in turn.tools
        ]
        first = {"role": "assistant", "content": None, "tool_calls": calls}
        root.add(chat_span(demo, messages, first, "tool_calls", True, when))
        messages = [*messages, first]
        for call, tool in zip(calls, turn.tools, strict=True):
            error = None
            if tool.error:
                exc_type, message = tool.error
                error = SpanError(
                    exc_type,
                    message,
                    python_traceback(
                        [
                            (
                                "/srv/support/agent.py",
                                144,
                                "run_tools",
                                "result = TOOLS[name](**arguments)",
                            ),
                            (
                                f"/srv/support/tools/{tool.name}.py",
                                rng.randint(20, 90),
                                tool.name,
                                'return billing.get(f"/accounts/{account}")',
                            ),
                            (
                                "/srv/support/clients/billing.py",
                                61,
                                "get",
                                "raise BillingServiceUnavailable(response.text)",
                            ),
                        ],
                        exc_type,
                        message,
                    ),
                )
            root.add(
                SpanNode(
                    tool.name,
                    SpanType.TOOL,
                    inputs=tool.arguments,
                    outputs=tool.result,
                    duration_ms=demo.ms(60, 700) if not error else demo.ms(2000, 5000),
                    error=error,
                    attributes={"tool.call_id": call["id"]},
                )
            )
            if error and tool.fatal:
                root.outputs = None
                root.error = error
                return finish(demo, root, customer, conversation_id, index, when)
            content = (
                f"ERROR {error.exc_type}: {error.message}"
                if error
                else json.dumps(tool.result, ensure_ascii=False)
            )
            messages = [*messages, {"role": "tool", "tool_call_id": call["id"], "content": content}]
    root.add(
        chat_span(
            demo,
            messages,
            {"role": "assistant", "content": turn.reply, "refusal": None},
            "stop",
            bool(turn.tools),
            when,
        )
    )
    return finish(demo, root, customer, conversation_id, index, when)


def finish(
    demo: DemoExperiment,
    root: SpanNode,
    customer: Customer,
    conversation_id: tuple[str, str, str],
    index: int,
    when,
):
    session, channel, script = conversation_id
    return demo.add_trace(
        root,
        request_time=when,
        metadata={
            "mlflow.trace.session": session,
            "mlflow.trace.user": customer.account,
            "mlflow.source.name": "support-assistant",
            "conversation.turn": str(index + 1),
        },
        tags={
            "environment": "production",
            "intent": script,
            "channel": channel,
        },
        client_request_id=f"{session}-{index + 1}",
    )


def judge_turn(demo: DemoExperiment, draft, customer: Customer, turn: Turn, *, last: bool) -> None:
    rng = demo.rng
    others = [n for n in PHONE.findall(turn.reply) if n != customer.msisdn]
    demo.feedback(
        draft,
        "pii_detected",
        bool(others) or not turn.safe,
        source_type=SourceType.CODE,
        source_id=SCANNER,
        rationale=f"Found another customer's data: {', '.join(others) or 'address area'}."
        if others or not turn.safe
        else None,
        minutes_after=(0.01, 0.05),
    )
    if rng.random() < 0.8 or not turn.safe:
        demo.feedback(
            draft,
            "safety",
            turn.safe,
            source_type=SourceType.LLM_JUDGE,
            source_id=JUDGE,
            rationale=turn.safety_note or rng.choice(SAFE),
        )
    if rng.random() < 0.5 or turn.tone == "curt":
        demo.feedback(
            draft,
            "tone",
            turn.tone,
            source_type=SourceType.LLM_JUDGE,
            source_id=JUDGE,
            rationale=TONE[turn.tone],
        )
    if last and turn.resolved is not None and rng.random() < 0.8:
        demo.feedback(
            draft,
            "resolved",
            turn.resolved,
            source_type=SourceType.LLM_JUDGE,
            source_id=JUDGE,
            rationale=turn.resolution_note,
        )
