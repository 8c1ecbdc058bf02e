"""Demo experiment 1: a RAG question-answering bot over a payments API's documentation.

Each trace: CHAIN root → EMBEDDING → RETRIEVER (documents) → CHAT_MODEL (OpenAI chat
completion with token usage) → PARSER. Outcomes vary: good, partial and wrong answers, retrieval
misses, honest "not documented" answers, rate-limit and vector-store errors. LLM judges scored
most traces (relevance 1-5, groundedness pass/fail, context relevance on the retriever span), a
code check looked for citations, and a curator wrote expected answers and facts for a few.
"""

from __future__ import annotations

from datetime import timedelta

from traces.demo.builder import (
    DEMO_BASE_TIME,
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
from traces.demo.docs_content import DOCS, DOCS_BY_ID, QUESTIONS, SYSTEM_PROMPT, UNANSWERABLE
from traces.models import SourceType, SpanType
from traces.services import AssessmentError

NAME = "Payments docs assistant"
DESCRIPTION = (
    "RAG chatbot on docs.lumenpay.dev answering developers' questions about the Lumen Payments "
    "API. Hybrid search over the documentation (top 4 passages), answers by gpt-4o-mini with "
    "citations. Production traffic, sampled."
)
TAGS = {"team": "developer-experience", "app": "docs-assistant", "stage": "production"}
TRACE_COUNT = 150

CHAT_MODEL = "gpt-4o-mini-2024-07-18"
EMBEDDING_MODEL = "text-embedding-3-small"
INDEX = "lumen-docs-2026-10"
JUDGE = "gpt-4.1-judge"
CHECKS = "answer_checks.py"
CURATOR = "curator"
RELEASE_1_9 = DEMO_BASE_TIME - timedelta(days=8)

RELEVANCE_5 = (
    "The response answers the question about {topic} directly and gives the concrete values "
    "from the documentation.",
    "Directly addresses {topic}; nothing the user needs is missing.",
    "A complete, specific answer about {topic}, including the caveats a developer would need.",
)
RELEVANCE_4 = (
    "The response answers the question about {topic}; it is a little long but nothing "
    "essential is missing.",
    "Relevant and correct on {topic}, though it repeats details the user did not ask for.",
)
GROUNDED = (
    "Every claim in the response is supported by the retrieved passages.",
    "All statements can be traced to the cited passages; no outside knowledge was added.",
    "The figures and endpoints quoted match the retrieved documentation.",
)


def seed(demo: DemoExperiment) -> None:
    rng = demo.rng
    users = [f"dev-{rng.randrange(1000, 9999)}" for _ in range(45)]
    expectations_left = 14
    seen_questions: set[str] = set()
    times = demo.request_times(TRACE_COUNT)
    for when in times:
        roll = rng.random()
        if roll < 0.05:
            outcome = "llm_error"
        elif roll < 0.07:
            outcome = "retriever_error"
        elif roll < 0.12:
            outcome = "unanswerable"
        elif roll < 0.17:
            outcome = "retrieval_miss"
        elif roll < 0.25:
            outcome = "wrong"
        elif roll < 0.38:
            outcome = "partial"
        else:
            outcome = "good"
        question = rng.choice(QUESTIONS)
        text = rng.choice(question.phrasings)
        if outcome == "unanswerable":
            text = rng.choice(UNANSWERABLE)

        relevant = [] if outcome in {"unanswerable", "retrieval_miss"} else list(question.docs)
        others = [d for d in DOCS if d.id not in question.docs]
        chosen = [DOCS_BY_ID[i] for i in relevant] + rng.sample(others, 4 - len(relevant))
        scored = sorted(
            (
                (
                    round(
                        rng.uniform(0.78, 0.92) if d.id in relevant else rng.uniform(0.5, 0.76), 4
                    ),
                    d,
                )
                for d in chosen
            ),
            key=lambda pair: -pair[0],
        )
        documents = [doc.as_document(score) for score, doc in scored]
        cited = [n for n, (_, doc) in enumerate(scored, start=1) if doc.id in relevant]

        if outcome == "good":
            answer = question.answer
        elif outcome == "partial":
            answer = question.partial
        elif outcome == "wrong":
            answer = question.wrong
        elif outcome == "retrieval_miss":
            answer = (
                "I couldn't find this in the documentation passages I have. For questions about "
                f"{question.topic}, please check docs.lumenpay.dev or contact support@lumenpay.dev."
            )
        else:
            answer = (
                "The Lumen documentation doesn't cover this. Please ask support@lumenpay.dev; "
                "they can tell you what is available for your account."
            )
        if cited and outcome != "wrong":
            answer += " " + "".join(f"[{n}]" for n in cited)
        elif outcome == "wrong":
            answer += f" [{rng.randint(1, 4)}]"
        sources = [documents[n - 1]["metadata"]["doc_uri"] for n in cited]

        root = SpanNode(
            "docs_assistant",
            SpanType.CHAIN,
            inputs={"question": text},
            outputs={"answer": answer, "sources": sources},
            duration_ms=demo.ms(0.5, 3),
        )
        embed = SpanNode(
            "embed_query",
            SpanType.EMBEDDING,
            inputs={"model": EMBEDDING_MODEL, "input": [text]},
            outputs={
                "model": EMBEDDING_MODEL,
                "dimensions": 1536,
                "usage": {"prompt_tokens": count_tokens(text), "total_tokens": count_tokens(text)},
            },
            duration_ms=demo.ms(25, 110),
        )
        retriever = SpanNode(
            "vector_search",
            SpanType.RETRIEVER,
            inputs={"query": text, "top_k": 4, "index": INDEX, "filters": {"product": "payments"}},
            outputs=documents,
            duration_ms=demo.ms(40, 320),
            attributes={"retriever.index": INDEX, "retriever.search_type": "hybrid"},
        )
        root.add(embed, retriever)

        if outcome == "retriever_error":
            error = SpanError(
                "VectorSearchUnavailable",
                f"Index {INDEX} is not ready (HTTP 503): a rebuild started at 02:00 UTC.",
                python_traceback(
                    [
                        (
                            "/app/docs_assistant/pipeline.py",
                            58,
                            "answer",
                            "passages = self.retriever.search(question, top_k=4)",
                        ),
                        (
                            "/app/docs_assistant/retriever.py",
                            41,
                            "search",
                            "hits = self._client.query(index=self.index, vector=vector, k=top_k)",
                        ),
                        (
                            "/usr/local/lib/python3.12/site-packages/vectordb/client.py",
                            212,
                            "query",
                            "raise VectorSearchUnavailable(response.text)",
                        ),
                    ],
                    "vectordb.errors.VectorSearchUnavailable",
                    f"Index {INDEX} is not ready (HTTP 503): a rebuild started at 02:00 UTC.",
                ),
            )
            retriever.outputs = None
            retriever.error = error
            root.outputs = None
            root.error = error
            add_trace(demo, root, when, users)
            continue

        context = "\n\n".join(
            f"[{n}] {doc.title} ({doc.path})\n{doc.content}" for n, (_, doc) in enumerate(scored, 1)
        )
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {text}"},
        ]
        prompt_tokens = count_tokens(messages)
        completion_tokens = count_tokens(answer)
        chat = SpanNode(
            "Completions",
            SpanType.CHAT_MODEL,
            inputs={
                "model": "gpt-4o-mini",
                "messages": messages,
                "temperature": 0.2,
                "max_tokens": 700,
            },
            outputs={
                "id": f"chatcmpl-{token_id(rng, 29)}",
                "object": "chat.completion",
                "created": int(when.timestamp()) + 1,
                "model": CHAT_MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
                "system_fingerprint": f"fp_{hex_id(rng, 40)}",
            },
            duration_ms=demo.ms(300, 700) + completion_tokens * demo.ms(12, 22),
            attributes={
                TOKEN_USAGE_ATTRIBUTE: token_usage(prompt_tokens, completion_tokens),
                "mlflow.message.format": "openai",
                "mlflow.llm.model": CHAT_MODEL,
                "mlflow.llm.provider": "openai",
            },
        )
        root.add(chat)

        if outcome == "llm_error":
            if rng.random() < 0.6:
                message = (
                    "Error code: 429 - Rate limit reached for gpt-4o-mini in organization "
                    f"org-{token_id(rng, 24)} on tokens per min (TPM): Limit 200000, Used "
                    f"{rng.randrange(197000, 199900)}, Requested {prompt_tokens}. Please try again "
                    f"in {rng.randrange(200, 900)}ms."
                )
                exc_type = "openai.RateLimitError"
            else:
                message = "Request timed out."
                exc_type = "openai.APITimeoutError"
            error = SpanError(
                exc_type,
                message,
                python_traceback(
                    [
                        (
                            "/app/docs_assistant/pipeline.py",
                            66,
                            "answer",
                            (
                                "completion = "
                                "self.llm.chat.completions.create(model=self.model, "
                                "messages=messages, temperature=0.2, max_tokens=700)"
                            ),
                        ),
                        (
                            "/usr/local/lib/python3.12/site-packages/openai/_utils/_utils.py",
                            287,
                            "wrapper",
                            "return func(*args, **kwargs)",
                        ),
                        (
                            "/usr/local/lib/python3.12/site-packages/openai/resources/chat/completions/completions.py",
                            1147,
                            "create",
                            "return self._post(",
                        ),
                        (
                            "/usr/local/lib/python3.12/site-packages/openai/_base_client.py",
                            1047,
                            "request",
                            "raise self._make_status_error_from_response(err.response) from None",
                        ),
                    ],
                    exc_type,
                    message,
                ),
            )
            chat.outputs = None
            chat.attributes.pop(TOKEN_USAGE_ATTRIBUTE)
            chat.duration_ms = (
                demo.ms(600, 30_000) if exc_type.endswith("Timeout") else demo.ms(80, 200)
            )
            chat.error = error
            root.outputs = None
            root.error = error
            add_trace(demo, root, when, users)
            continue

        root.add(
            SpanNode(
                "format_citations",
                SpanType.PARSER,
                inputs={"text": answer, "passages": len(documents)},
                outputs={"answer": answer, "sources": sources},
                duration_ms=demo.ms(0.1, 1.5),
            )
        )
        draft = add_trace(demo, root, when, users)

        # Assessments: a code check on every answer, judges on most, a curator on a few.
        demo.feedback(
            draft,
            "has_citation",
            "[" in answer,
            source_type=SourceType.CODE,
            source_id=CHECKS,
            minutes_after=(0.01, 0.05),
        )
        if rng.random() < 0.7:
            judge(demo, draft, outcome, question, cited)
        if rng.random() < 0.3:
            on_topic = bool(relevant)
            demo.feedback(
                draft,
                "context_relevance",
                on_topic,
                source_type=SourceType.LLM_JUDGE,
                source_id=JUDGE,
                span=retriever,
                rationale=(
                    f"Passages {', '.join(f'[{n}]' for n in cited)} cover {question.topic}; the "
                    "others are unrelated but harmless."
                    if on_topic
                    else "None of the four passages is about what the user asked; the index "
                    "returned loosely related pages."
                ),
            )
        if (
            expectations_left
            and outcome in {"good", "partial"}
            and question.topic not in seen_questions
        ):
            seen_questions.add(question.topic)
            expectations_left -= 1
            demo.expectation(draft, "expected_answer", question.answer, source_id=CURATOR)
            demo.expectation(draft, "expected_facts", list(question.facts), source_id=CURATOR)
            if rng.random() < 0.5:
                demo.expectation(
                    draft,
                    "expected_document_uris",
                    [f"https://docs.lumenpay.dev{DOCS_BY_ID[i].path}" for i in question.docs],
                    source_id=CURATOR,
                    span=retriever,
                )


def add_trace(demo: DemoExperiment, root: SpanNode, when, users: list[str]):
    rng = demo.rng
    version = "1.9.0" if when >= RELEASE_1_9 else "1.8.2"
    return demo.add_trace(
        root,
        request_time=when,
        metadata={
            "mlflow.trace.user": rng.choice(users),
            "mlflow.source.name": "docs-assistant",
            "mlflow.source.type": "PRODUCTION",
        },
        tags={"environment": "production", "app_version": version},
        client_request_id=f"req_{token_id(rng, 16)}",
    )


def judge(demo: DemoExperiment, draft, outcome: str, question, cited: list[int]) -> None:
    rng = demo.rng
    topic = question.topic
    if outcome == "good":
        score = rng.choice([5, 5, 5, 4])
        relevance = rng.choice(RELEVANCE_5 if score == 5 else RELEVANCE_4).format(topic=topic)
        grounded, why = True, rng.choice(GROUNDED)
    elif outcome == "partial":
        score = rng.choice([3, 3, 4])
        relevance = f"The response is on topic ({topic}) but leaves out {question.missing}."
        grounded, why = (
            True,
            "What the response says is supported by the passages; it is just incomplete.",
        )
    elif outcome == "wrong":
        score = rng.choice([3, 4])
        relevance = (
            f"The response addresses {topic}, so it is relevant, but it states that "
            f"{question.wrong_claim}."
        )
        grounded = False
        why = (
            f"The response claims that {question.wrong_claim}, but the retrieved context says "
            f"{question.truth}."
        )
    elif outcome == "retrieval_miss":
        score = rng.choice([1, 2])
        relevance = (
            f"The user asked about {topic}; the response only says the documentation has no "
            "answer, although the topic is documented."
        )
        grounded, why = True, "The response makes no claim beyond the context."
    else:
        score = rng.choice([4, 5])
        relevance = (
            "The question is not covered by the documentation; the response says so and points "
            "to support, which is the right answer."
        )
        grounded, why = (
            True,
            "The response makes no factual claim the context would need to support.",
        )

    metadata = {"judge_prompt": "relevance-v3", "judge_model": "gpt-4.1-2025-04-14"}
    demo.feedback(
        draft,
        "relevance",
        score,
        source_type=SourceType.LLM_JUDGE,
        source_id=JUDGE,
        rationale=relevance,
        metadata=metadata,
    )
    if rng.random() < 0.04:
        demo.feedback(
            draft,
            "groundedness",
            source_type=SourceType.LLM_JUDGE,
            source_id=JUDGE,
            error=AssessmentError(
                error_code="RATE_LIMIT_EXCEEDED",
                error_message=(
                    "Rate limit for the judge model exceeded; the scorer gave up after 3 retries."
                ),
                stack_trace=python_traceback(
                    [
                        (
                            "/app/scorers/groundedness.py",
                            37,
                            "score",
                            "verdict = judge.invoke(prompt)",
                        ),
                        (
                            "/usr/local/lib/python3.12/site-packages/openai/_base_client.py",
                            1047,
                            "request",
                            "raise self._make_status_error_from_response(err.response) from None",
                        ),
                    ],
                    "openai.RateLimitError",
                    "Error code: 429 - Rate limit reached for gpt-4.1.",
                ),
            ),
        )
        return
    demo.feedback(
        draft,
        "groundedness",
        grounded,
        source_type=SourceType.LLM_JUDGE,
        source_id=JUDGE,
        rationale=why,
        metadata={**metadata, "judge_prompt": "groundedness-v2"},
    )
