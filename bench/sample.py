"""Realistic, deterministic trace payloads for the benchmarks and the screenshots.

`support_trace_spans` builds the spans of one run of a customer-support agent (chat messages,
a retriever with documents, a tool call); `agent_trace_spans` builds a long agent run of any
number of spans. Both return plain dicts; `insert_trace` bulk-inserts one trace with its spans.
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

from traces.models import Experiment, Span, Trace, new_trace_id

QUESTIONS = [
    ("Where is my order A-1042? It was supposed to arrive on Monday.", "order"),
    ("How do I reset my password if I no longer have access to my email?", "account"),
    ("Can I return a jacket I bought 45 days ago?", "returns"),
    ("Do you ship to Norway, and how long does it take?", "shipping"),
    ("My invoice shows VAT twice. Can you fix it?", "billing"),
    ("Is the Trailrunner 3 waterproof?", "product"),
    ("I was charged for a subscription I cancelled last month.", "billing"),
    ("What sizes does the Alpine fleece come in?", "product"),
    ("How do I change the delivery address of an order that has shipped?", "order"),
    ("Can I combine two discount codes on one order?", "billing"),
    ("The zipper on my backpack broke after two weeks. Is that covered?", "returns"),
    ("Do you have a store in Lyon?", "stores"),
]
ANSWERS = {
    "order": "Your order A-1042 left our warehouse on Friday and is with the carrier. The "
    "tracking page shows delivery expected on Wednesday. I'm sorry for the delay!",
    "account": "You can reset it from the sign-in page: choose “Forgot password”, then “I no "
    "longer have access to this email”. We will verify your identity with your last order "
    "number.",
    "returns": "Our return window is 30 days, so this purchase is outside it. Because the "
    "jacket is unworn, I can offer store credit for the full amount instead.",
    "shipping": "Yes, we ship to Norway. Standard delivery takes 4 to 6 business days; customs "
    "fees are included at checkout.",
    "billing": "I checked your invoice: VAT was applied once to the items and once to the "
    "shipping fee, which is correct for your country. Here is the breakdown.",
    "product": "The Trailrunner 3 has a water-resistant membrane: it keeps your feet dry in "
    "light rain and puddles, but it is not fully waterproof.",
    "stores": "We don't have a store in Lyon yet. The closest one is in Geneva, and you can "
    "order online with free returns.",
}
DOCS = {
    "order": [
        (
            "kb/shipping/tracking.md",
            "Orders leave the warehouse within 2 business days. The "
            "tracking link in the confirmation email shows the carrier's latest scan.",
        ),
        (
            "kb/shipping/delays.md",
            "When a delivery is late by more than 3 days, customers may "
            "ask for a refund of the shipping fee.",
        ),
    ],
    "returns": [
        (
            "kb/returns/policy.md",
            "Items can be returned within 30 days of delivery if unworn. "
            "After 30 days, store credit may be offered at the agent's discretion.",
        ),
        (
            "kb/returns/warranty.md",
            "Manufacturing defects are covered for 2 years. Wear and tear is not covered.",
        ),
    ],
}
DEFAULT_DOCS = [
    (
        "kb/faq/general.md",
        "Customer service answers within one business day. Orders, returns "
        "and billing questions can be handled in chat.",
    ),
    (
        "kb/faq/account.md",
        "Account recovery requires the last order number and the billing postcode.",
    ),
    ("kb/products/catalog.md", "Product pages list materials, sizes and care instructions."),
]
SYSTEM_PROMPT = (
    "You are a friendly support agent for Northwind Outdoor. Answer from the knowledge base; "
    "if you are not sure, say so and offer to escalate."
)


def _chat_completion(text: str, *, model: str = "gpt-4o-mini", tokens: int = 120) -> dict:
    return {
        "id": "chatcmpl-demo",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": tokens * 3,
            "completion_tokens": tokens,
            "total_tokens": tokens * 4,
        },
    }


def support_trace_spans(question: str, topic: str, rng: random.Random) -> list[dict[str, Any]]:
    """One agent run: rewrite the query, retrieve, look up the order, answer."""
    answer = ANSWERS.get(topic, ANSWERS["product"])
    docs = DOCS.get(topic, DEFAULT_DOCS)
    ms = 1_000_000
    t = 0
    spans: list[dict[str, Any]] = []

    def add(
        span_id: int,
        parent: int | None,
        name: str,
        kind: str,
        start: int,
        duration: int,
        inputs: Any,
        outputs: Any,
        **extra: Any,
    ) -> None:
        spans.append(
            {
                "span_id": f"{span_id:016x}",
                "parent_id": f"{parent:016x}" if parent else None,
                "name": name,
                "span_type": kind,
                "start": start,
                "end": start + duration,
                "inputs": inputs,
                "outputs": outputs,
                **extra,
            }
        )

    user_messages = [{"role": "user", "content": question}]
    rewrite = rng.randint(250, 700) * ms
    retrieve = rng.randint(60, 240) * ms
    tool = rng.randint(40, 180) * ms
    generate = rng.randint(700, 2600) * ms
    total = rewrite + retrieve + tool + generate + 40 * ms
    add(
        1,
        None,
        "support_agent",
        "AGENT",
        t,
        total,
        {"messages": user_messages},
        _chat_completion(answer),
        attributes={"app.version": "2.4.1", "session.id": f"s-{rng.randint(1000, 9999)}"},
    )
    t += 5 * ms
    query = f"{topic} policy: {question[:60].lower()}"
    add(
        2,
        1,
        "rewrite_query",
        "CHAT_MODEL",
        t,
        rewrite,
        {
            "model": "gpt-4o-mini",
            "temperature": 0,
            "messages": [
                {
                    "role": "system",
                    "content": "Rewrite the customer question as a search "
                    "query for the knowledge base.",
                },
                *user_messages,
            ],
        },
        _chat_completion(query, tokens=24),
    )
    t += rewrite
    add(
        3,
        1,
        "retrieve_docs",
        "RETRIEVER",
        t,
        retrieve,
        {"query": query, "k": len(docs)},
        [
            {
                "page_content": text,
                "metadata": {
                    "doc_uri": uri,
                    "chunk_id": f"{uri}#{i}",
                    "score": round(0.92 - i * 0.11, 2),
                },
            }
            for i, (uri, text) in enumerate(docs)
        ],
    )
    t += retrieve
    call_id = f"call_{rng.randint(10**7, 10**8 - 1)}"
    add(
        4,
        1,
        "lookup_order",
        "TOOL",
        t,
        tool,
        {"order_id": "A-1042", "fields": ["status", "eta"]},
        {"status": "shipped", "carrier": "PostNord", "eta": "2024-05-15"},
    )
    t += tool
    add(
        5,
        1,
        "generate_answer",
        "CHAT_MODEL",
        t,
        generate,
        {
            "model": "gpt-4o",
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                *user_messages,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {
                                "name": "lookup_order",
                                "arguments": '{"order_id": "A-1042"}',
                            },
                        }
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": call_id,
                    "content": '{"status": "shipped", "eta": "2024-05-15"}',
                },
                {"role": "user", "content": "Context:\n" + "\n".join(text for _, text in docs)},
            ],
        },
        _chat_completion(answer, model="gpt-4o", tokens=rng.randint(60, 180)),
    )
    add(
        6,
        5,
        "format_response",
        "PARSER",
        t + generate - 12 * ms,
        9 * ms,
        {"text": answer},
        {"markdown": answer, "length": len(answer)},
    )
    return spans


def agent_trace_spans(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """A long agent run: a root, steps of ten spans (plan → retrieve → tools → answer), nested
    three levels deep, `count` spans in all, with realistic payload sizes."""
    ms = 1_000_000
    spans: list[dict[str, Any]] = []
    next_id = iter(range(1, count + 1))

    def add(
        parent: str | None,
        name: str,
        kind: str,
        start: int,
        duration: int,
        inputs: Any = None,
        outputs: Any = None,
        status: str = "OK",
    ) -> str:
        span_id = f"{next(next_id):016x}"
        spans.append(
            {
                "span_id": span_id,
                "parent_id": parent,
                "name": name,
                "span_type": kind,
                "start": start,
                "end": start + duration,
                "inputs": inputs,
                "outputs": outputs,
                "status_code": status,
            }
        )
        return span_id

    root = add(
        None,
        "research_agent",
        "AGENT",
        0,
        1,
        {
            "messages": [
                {"role": "user", "content": "Compare the return policies of our 40 suppliers."}
            ]
        },
        "Done.",
    )
    t = 0
    step = 0
    while len(spans) < count:
        step += 1
        step_id = add(root, f"step_{step}", "CHAIN", t, 1, {"step": step})
        step_span = spans[-1]
        for kind, name in (
            ("CHAT_MODEL", "plan"),
            ("RETRIEVER", "search_kb"),
            ("TOOL", "fetch_supplier"),
            ("RERANKER", "rerank"),
            ("TOOL", "parse_pdf"),
            ("CHAT_MODEL", "summarise"),
            ("PARSER", "extract_fields"),
            ("EMBEDDING", "embed"),
            ("CHAT_MODEL", "critique"),
        ):
            if len(spans) >= count:
                break
            duration = rng.randint(5, 400) * ms
            payload = {"messages": [{"role": "user", "content": "x" * rng.randint(50, 600)}]}
            failed = rng.random() < 0.01
            add(
                step_id,
                name,
                kind,
                t,
                duration,
                payload,
                _chat_completion("y" * rng.randint(40, 400)),
                "ERROR" if failed else "OK",
            )
            t += duration
        step_span["end"] = max(t, step_span["start"] + 1)
    spans[0]["end"] = t
    return spans


def insert_trace(
    experiment: Experiment,
    spans: list[dict[str, Any]],
    *,
    request_time: datetime,
    base_ns: int,
    trace_id: str | None = None,
    **fields: Any,
) -> Trace:
    """Insert one trace and its spans with bulk_create; previews from the root span."""
    root = spans[0]
    duration_ms = max(0, (root["end"] - root["start"]) // 1_000_000)
    trace = Trace.objects.create(
        trace_id=trace_id or new_trace_id(),
        experiment=experiment,
        request_time=request_time,
        execution_duration=duration_ms,
        request_preview=json.dumps(root["inputs"])[:1000],
        response_preview=json.dumps(root["outputs"])[:1000],
        **fields,
    )
    Span.objects.bulk_create(
        [
            Span(
                trace=trace,
                span_id=s["span_id"],
                parent_id=s["parent_id"],
                name=s["name"],
                span_type=s["span_type"],
                start_time_ns=base_ns + s["start"],
                end_time_ns=base_ns + s["end"],
                status_code=s.get("status_code", "OK"),
                inputs=s["inputs"],
                outputs=s["outputs"],
                attributes=s.get("attributes", {}),
            )
            for s in spans
        ],
        batch_size=1000,
    )
    return trace
