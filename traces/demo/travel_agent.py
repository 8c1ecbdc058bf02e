"""Demo experiment 2: a travel-booking agent that calls tools.

Each trace: AGENT root → LLM call (Anthropic Messages format, tool_use blocks) → TOOL spans with
arguments and results → LLM call → … → final answer. Some tool calls fail with an ERROR status
and an exception event: a sold-out fare the agent recovers from, a declined card it reports, a
booking-service timeout that fails the whole trace. Judges scored task completion and tool use;
a code check counted tool calls; a curator wrote the expected tool sequence for a few traces.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from traces.demo.builder import (
    TOKEN_USAGE_ATTRIBUTE,
    DemoExperiment,
    SpanError,
    SpanNode,
    count_tokens,
    python_traceback,
    token_id,
    token_usage,
)
from traces.demo.travel_content import (
    CARRIERS,
    CITIES,
    CITY_BY_NAME,
    HOTEL_BRANDS,
    HUBS,
    SYSTEM,
    TOOLS,
    TRAIN_PAIRS,
    TRAVELLERS,
    WEATHER,
    City,
)
from traces.models import SourceType, SpanType

NAME = "Travel booking agent"
DESCRIPTION = (
    "Tool-using agent of the Wayfarer travel app: searches flights, trains and hotels, checks "
    "the weather, books and changes trips. Claude Sonnet with 8 tools; staging traffic from the "
    "internal beta."
)
TAGS = {"team": "wayfarer-agents", "app": "travel-agent", "stage": "beta"}
TRACE_COUNT = 80

MODEL = "claude-sonnet-4-5-20250929"
JUDGE = "claude-opus-judge"
CHECKS = "agent_checks.py"
CURATOR = "curator"


def seed(demo: DemoExperiment) -> None:
    rng = demo.rng
    expectations_left = 8
    for when in demo.request_times(TRACE_COUNT):
        scenario = rng.choices(
            ["trip", "book", "weather", "change", "train"], weights=[30, 30, 15, 15, 10]
        )[0]
        run = AgentRun(demo, when)
        build = {
            "trip": run.plan_trip,
            "book": run.book,
            "weather": run.weather,
            "change": run.change,
            "train": run.train,
        }[scenario]
        build()
        draft = run.finish()
        if draft.root.error:
            continue
        tool_calls = [n for n in draft.spans.values() if n.span_type == SpanType.TOOL]
        demo.feedback(
            draft,
            "tool_calls",
            len(tool_calls),
            source_type=SourceType.CODE,
            source_id=CHECKS,
            minutes_after=(0.01, 0.05),
        )
        demo.feedback(
            draft,
            "tool_errors",
            sum(1 for n in tool_calls if n.error),
            source_type=SourceType.CODE,
            source_id=CHECKS,
            minutes_after=(0.01, 0.05),
        )
        if rng.random() < 0.75:
            demo.feedback(
                draft,
                "task_completed",
                run.completed,
                source_type=SourceType.LLM_JUDGE,
                source_id=JUDGE,
                rationale=run.completion_rationale,
            )
            demo.feedback(
                draft,
                "tool_call_correctness",
                run.tools_correct,
                source_type=SourceType.LLM_JUDGE,
                source_id=JUDGE,
                rationale=run.tools_rationale,
            )
            if run.failed_tool is not None:
                demo.feedback(
                    draft,
                    "error_handling",
                    run.handled_error,
                    source_type=SourceType.LLM_JUDGE,
                    source_id=JUDGE,
                    span=run.failed_tool,
                    rationale=run.error_rationale,
                )
        if expectations_left and run.completed and rng.random() < 0.25:
            expectations_left -= 1
            demo.expectation(draft, "expected_tool_calls", run.expected_tools, source_id=CURATOR)


def price_text(amount: float) -> str:
    return f"€{amount}" if amount else "free"


def when_text(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


class AgentRun:
    """One conversation turn of the agent, built step by step."""

    def __init__(self, demo: DemoExperiment, when: datetime) -> None:
        self.demo = demo
        self.rng = demo.rng
        self.when = when
        self.messages: list[dict[str, Any]] = []
        self.root = SpanNode("travel_agent", SpanType.AGENT, duration_ms=demo.ms(1, 6))
        self.completed = True
        self.tools_correct = True
        self.completion_rationale = ""
        self.tools_rationale = ""
        self.failed_tool: SpanNode | None = None
        self.handled_error = True
        self.error_rationale = ""
        self.expected_tools: list[str] = []
        self.pending_results: list[dict[str, Any]] = []

    # --- building blocks -------------------------------------------------------------------------

    def ask(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})
        self.root.inputs = {"messages": [{"role": "user", "content": text}]}

    def llm(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """An LLM call that answers with `blocks` (text and tool_use)."""
        rng = self.rng
        for block in blocks:
            if block["type"] == "tool_use":
                block["id"] = f"toolu_{token_id(rng, 24)}"
        inputs = {
            "model": MODEL,
            "max_tokens": 1024,
            "system": SYSTEM,
            "tools": TOOLS,
            "messages": json.loads(json.dumps(self.messages)),
        }
        stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        input_tokens, output_tokens = count_tokens(inputs), count_tokens(blocks)
        self.root.add(
            SpanNode(
                "Messages.create",
                SpanType.LLM,
                inputs=inputs,
                outputs={
                    "id": f"msg_{token_id(rng, 24)}",
                    "type": "message",
                    "role": "assistant",
                    "model": MODEL,
                    "content": blocks,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
                },
                duration_ms=self.demo.ms(500, 1100) + output_tokens * self.demo.ms(15, 28),
                attributes={
                    TOKEN_USAGE_ATTRIBUTE: token_usage(input_tokens, output_tokens),
                    "mlflow.message.format": "anthropic",
                    "mlflow.llm.model": MODEL,
                    "mlflow.llm.provider": "anthropic",
                },
            )
        )
        self.messages.append({"role": "assistant", "content": blocks})
        return [b for b in blocks if b["type"] == "tool_use"]

    def tool(
        self,
        call: dict[str, Any],
        result: Any = None,
        *,
        error: SpanError | None = None,
        slow: tuple[float, float] = (120, 900),
    ) -> SpanNode:
        node = SpanNode(
            call["name"],
            SpanType.TOOL,
            inputs=call["input"],
            outputs=None if error else result,
            duration_ms=self.demo.ms(*slow),
            error=error,
            attributes={"tool.call_id": call["id"], "tool.provider": "wayfarer-api"},
        )
        self.root.add(node)
        self.expected_tools.append(call["name"])
        content = (
            f"{error.exc_type.rsplit('.', 1)[-1]}: {error.message}"
            if error
            else json.dumps(result, ensure_ascii=False)
        )
        message: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": call["id"],
            "content": content,
        }
        if error:
            message["is_error"] = True
            self.failed_tool = node
        self.pending_results.append(message)
        return node

    def results(self) -> None:
        """Send the tool results of the last round back to the model."""
        self.messages.append({"role": "user", "content": self.pending_results})
        self.pending_results = []

    def answer(self, text: str) -> None:
        self.llm([{"type": "text", "text": text}])
        self.root.outputs = {"messages": [{"role": "assistant", "content": text}]}

    def finish(self):
        return self.demo.add_trace(
            self.root,
            request_time=self.when,
            metadata={
                "mlflow.trace.user": f"wf-user-{self.rng.randrange(10000, 99999)}",
                "mlflow.trace.session": f"wf-{token_id(self.rng, 12)}",
                "mlflow.source.name": "wayfarer-agent",
            },
            tags={"environment": "beta", "agent_version": self.rng.choice(["0.14.1", "0.15.0"])},
            client_request_id=f"wf-req-{token_id(self.rng, 12)}",
        )

    # --- tool results ----------------------------------------------------------------------------

    def travel_date(self) -> date:
        return (self.when + timedelta(days=self.rng.randint(6, 70))).date()

    def cities(self) -> tuple[City, City]:
        origin, destination = self.rng.sample(CITIES, 2)
        return origin, destination

    def flight_offers(
        self, origin: City, destination: City, day: date, direct_only: bool
    ) -> list[dict]:
        rng = self.rng
        offers = []
        for _ in range(rng.randint(3, 4)):
            carrier, code = rng.choice(CARRIERS)
            stops = 0 if direct_only or rng.random() < 0.6 else 1
            minutes = rng.randint(105, 225) + stops * rng.randint(70, 160)
            depart = datetime(
                day.year,
                day.month,
                day.day,
                rng.choice([6, 7, 8, 10, 12, 14, 17, 19]),
                rng.choice([0, 5, 15, 25, 35, 40, 50, 55]),
            )
            arrive = depart + timedelta(minutes=minutes)
            offer = {
                "offer_id": f"off_{token_id(rng, 10)}",
                "carrier": carrier,
                "flight_number": f"{code} {rng.randint(100, 2999)}",
                "departure": f"{depart:%Y-%m-%dT%H:%M}",
                "arrival": f"{arrive:%Y-%m-%dT%H:%M}",
                "stops": stops,
                "duration": f"{minutes // 60}h{minutes % 60:02d}m",
                "fare": rng.choice(["Economy Light", "Economy Classic", "Economy Flex"]),
                "price": {"amount": round(rng.uniform(49, 320), 2), "currency": "EUR"},
            }
            if stops:
                offer["via"] = rng.choice(
                    [h for h in HUBS if h not in (origin.airport, destination.airport)]
                )
            offers.append(offer)
        return sorted(offers, key=lambda o: o["price"]["amount"])

    def hotels(self, city: City, area: str, nights: int) -> list[dict]:
        rng = self.rng
        brands = rng.sample(HOTEL_BRANDS, 3)
        results = []
        for brand in brands:
            results.append(
                {
                    "hotel_id": f"h_{token_id(rng, 8)}",
                    "name": f"{brand} {city.name} {rng.choice(city.areas)}",
                    "stars": rng.choice([3, 3, 4, 4, 4, 5]),
                    "distance_km": round(rng.uniform(0.2, 2.8), 1),
                    "near": area,
                    "guest_rating": round(rng.uniform(7.4, 9.4), 1),
                    "price_per_night": {"amount": rng.randrange(78, 260), "currency": "EUR"},
                    "free_cancellation": rng.random() < 0.7,
                }
            )
        return sorted(results, key=lambda h: h["distance_km"])

    @staticmethod
    def offer_line(n: int, offer: dict) -> str:
        stops = "direct" if not offer["stops"] else f"1 stop via {offer['via']}"
        return (
            f"{n}. {offer['carrier']} {offer['flight_number']}: {offer['departure'][11:]} → "
            f"{offer['arrival'][11:]} ({offer['duration']}, {stops}), "
            f"€{offer['price']['amount']:.2f}, {offer['fare']}"
        )

    # --- scenarios -------------------------------------------------------------------------------

    def plan_trip(self) -> None:
        rng = self.rng
        origin, destination = self.cities()
        day = self.travel_date()
        nights = rng.randint(2, 5)
        guests = rng.randint(1, 3)
        area = rng.choice(destination.areas)
        self.ask(
            rng.choice(
                [
                    f"I need to get from {origin.name} to {destination.name} on {when_text(day)} "
                    f"for {guests} {'person' if guests == 1 else 'people'}, and a hotel near "
                    f"{area} for {nights} nights. What are my options?",
                    f"Planning a trip {origin.name} → {destination.name}, leaving {day:%d %b}, "
                    f"back after {nights} nights. {guests} adult{'s' if guests > 1 else ''}. "
                    f"Flights + somewhere to stay around {area} please",
                ]
            )
        )
        calls = self.llm(
            [
                {"type": "text", "text": "I'll look up flights and hotels for those dates."},
                {
                    "type": "tool_use",
                    "name": "search_flights",
                    "input": {
                        "origin": origin.airport,
                        "destination": destination.airport,
                        "date": day.isoformat(),
                        "passengers": guests,
                    },
                },
                {
                    "type": "tool_use",
                    "name": "search_hotels",
                    "input": {
                        "city": destination.name,
                        "check_in": day.isoformat(),
                        "check_out": (day + timedelta(days=nights)).isoformat(),
                        "guests": guests,
                        "near": area,
                    },
                },
            ]
        )
        offers = self.flight_offers(origin, destination, day, direct_only=False)
        self.tool(calls[0], {"offers": offers, "currency": "EUR"}, slow=(400, 2400))
        hotels = self.hotels(destination, area, nights)
        self.tool(calls[1], {"results": hotels, "nights": nights}, slow=(300, 1600))
        self.results()
        flawed = rng.random() < 0.15
        quoted = offers[1] if flawed else offers[0]
        lines = [
            (
                f"Here are the best options from {origin.name} to {destination.name} on "
                f"{when_text(day)}:"
            ),
            "",
            "**Flights** (per person)",
        ]
        lines.append(self.offer_line(1, {**offers[0], "price": quoted["price"]}))
        lines.extend(self.offer_line(n, o) for n, o in enumerate(offers[1:3], start=2))
        lines += ["", f"**Hotels near {area}** ({nights} nights)"]
        for n, hotel in enumerate(hotels, start=1):
            cancel = ", free cancellation" if hotel["free_cancellation"] else ""
            lines.append(
                f"{n}. {hotel['name']} ({hotel['stars']}★, {hotel['distance_km']} km, rated "
                f"{hotel['guest_rating']}): €{hotel['price_per_night']['amount']}/night{cancel}"
            )
        lines += ["", "Shall I book the first flight, and which hotel do you prefer?"]
        self.answer("\n".join(lines))
        self.completion_rationale = (
            "The agent searched both flights and hotels for the requested dates and presented "
            "clear options, then asked before booking."
        )
        if flawed:
            self.tools_correct = False
            self.tools_rationale = (
                "The tool calls were right, but the answer quotes "
                f"€{quoted['price']['amount']:.2f} "
                f"for {offers[0]['flight_number']}; search_flights returned "
                f"€{offers[0]['price']['amount']:.2f}."
            )
        else:
            self.tools_rationale = (
                "search_flights and search_hotels were called once each with the airports, dates, "
                "party size and neighbourhood from the request."
            )

    def book(self) -> None:
        rng = self.rng
        origin, destination = self.cities()
        day = self.travel_date()
        traveller = rng.choice(TRAVELLERS)
        self.ask(
            rng.choice(
                [
                    f"Please book the cheapest direct flight from {origin.name} to "
                    f"{destination.name} on {when_text(day)} for me ({traveller}). Hand luggage "
                    "only is fine.",
                    f"Book me on the cheapest nonstop {origin.airport}-{destination.airport} on "
                    f"{day:%d/%m}. Name on passport: {traveller}.",
                ]
            )
        )
        calls = self.llm(
            [
                {
                    "type": "tool_use",
                    "name": "search_flights",
                    "input": {
                        "origin": origin.airport,
                        "destination": destination.airport,
                        "date": day.isoformat(),
                        "passengers": 1,
                        "direct_only": True,
                    },
                }
            ]
        )
        offers = self.flight_offers(origin, destination, day, direct_only=True)
        self.tool(calls[0], {"offers": offers, "currency": "EUR"}, slow=(400, 2400))
        self.results()
        cheapest = offers[0]
        calls = self.llm(
            [
                {
                    "type": "text",
                    "text": (
                        f"The cheapest direct option is {cheapest['carrier']} "
                        f"{cheapest['flight_number']} at €{cheapest['price']['amount']:.2f}. "
                        "Booking it now."
                    ),
                },
                {
                    "type": "tool_use",
                    "name": "book_flight",
                    "input": {"offer_id": cheapest["offer_id"], "passengers": [traveller]},
                },
            ]
        )
        fate = rng.choices(["ok", "sold_out", "declined", "timeout"], weights=[62, 16, 10, 12])[0]
        reference = token_id(rng, 6).upper()
        if fate == "ok":
            self.tool(calls[0], self.confirmation(reference, cheapest, traveller), slow=(900, 3500))
            self.results()
            self.answer(
                f"Done! You're booked on {cheapest['carrier']} {cheapest['flight_number']}, "
                f"{when_text(day)}, departing {cheapest['departure'][11:]} and arriving "
                f"{cheapest['arrival'][11:]}. Booking reference **{reference}**, total "
                f"€{cheapest['price']['amount']:.2f} charged to your card on file. The e-ticket is "
                "on its way to your email."
            )
            self.completion_rationale = (
                "The cheapest direct flight was booked and the confirmation details were given."
            )
            self.tools_rationale = (
                "search_flights was called with direct_only=true and the "
                "agent booked the cheapest offer it returned."
            )
        elif fate == "sold_out":
            message = (
                f"Offer {cheapest['offer_id']} is no longer available: the fare class sold out."
            )
            self.tool(
                calls[0],
                error=self.tool_error("OfferUnavailableError", message, "book_flight"),
                slow=(600, 1800),
            )
            self.results()
            nxt = offers[1]
            calls = self.llm(
                [
                    {
                        "type": "text",
                        "text": (
                            "That fare just sold out. The next cheapest direct flight is "
                            f"{nxt['flight_number']} at €{nxt['price']['amount']:.2f}; "
                            "booking it instead."
                        ),
                    },
                    {
                        "type": "tool_use",
                        "name": "book_flight",
                        "input": {"offer_id": nxt["offer_id"], "passengers": [traveller]},
                    },
                ]
            )
            self.tool(calls[0], self.confirmation(reference, nxt, traveller), slow=(900, 3500))
            self.results()
            self.answer(
                f"The cheapest fare sold out while I was booking, so I booked the next cheapest "
                f"direct flight: {nxt['carrier']} {nxt['flight_number']}, departing "
                f"{nxt['departure'][11:]}, €{nxt['price']['amount']:.2f} "
                f"(€{nxt['price']['amount'] - cheapest['price']['amount']:.2f} more). Booking "
                f"reference **{reference}**."
            )
            self.completion_rationale = (
                "The traveller asked for a booking and has one, on the next cheapest direct flight."
            )
            self.tools_rationale = (
                "After the booking failed the agent retried with the next "
                "offer from the same search instead of searching again."
            )
            self.error_rationale = (
                "The agent noticed the sold-out fare, booked the next "
                "cheapest direct flight and told the traveller the price "
                "difference."
            )
            self.handled_error = True
        elif fate == "declined":
            message = "Card ending 4421 was declined by the issuer (do_not_honor)."
            self.tool(
                calls[0],
                error=self.tool_error("PaymentDeclinedError", message, "book_flight"),
                slow=(1500, 4000),
            )
            self.results()
            self.answer(
                f"I couldn't complete the booking: your card ending 4421 was declined by the bank. "
                f"The flight ({cheapest['carrier']} {cheapest['flight_number']}, "
                f"€{cheapest['price']['amount']:.2f}) is not held. Could you add another card in "
                "Settings → Payment, or call your bank? Then I'll try again."
            )
            self.completed = False
            self.completion_rationale = (
                "No booking was made because the card was declined; nothing the agent could do."
            )
            self.tools_rationale = (
                "The right offer was chosen and booked with the traveller's name."
            )
            self.error_rationale = (
                "The agent explained the decline clearly, did not retry the "
                "declined card and told the traveller what to do next."
            )
            self.handled_error = rng.random() < 0.85
            if not self.handled_error:
                self.error_rationale = (
                    "The agent should have said whether the seat is held; "
                    "the traveller may think the booking went through."
                )
        else:
            message = "timed out waiting for the booking service (GDS) after 30.0 s"
            error = self.tool_error("httpx.ReadTimeout", message, "book_flight")
            self.tool(calls[0], error=error, slow=(30_000, 30_200))
            self.root.error = error

    def confirmation(self, reference: str, offer: dict, traveller: str) -> dict:
        return {
            "booking_reference": reference,
            "status": "CONFIRMED",
            "passengers": [traveller],
            "flight_number": offer["flight_number"],
            "departure": offer["departure"],
            "ticket_numbers": [f"{self.rng.randrange(10**12, 10**13)}"],
            "total": offer["price"],
        }

    def tool_error(self, exc_type: str, message: str, tool: str) -> SpanError:
        frames = [
            (
                "/srv/wayfarer/agent/runtime.py",
                212,
                "run_tool",
                "result = await tool.invoke(**arguments)",
            ),
            (
                f"/srv/wayfarer/agent/tools/{tool}.py",
                self.rng.randint(40, 160),
                tool,
                "response = await self.client.post(path, json=payload)",
            ),
            ("/srv/wayfarer/clients/booking.py", 88, "post", "raise_for_booking_error(response)"),
        ]
        if exc_type.startswith("httpx"):
            frames[-1] = (
                "/usr/local/lib/python3.12/site-packages/httpx/_transports/default.py",
                118,
                "map_httpcore_exceptions",
                "raise mapped_exc(message) from exc",
            )
        return SpanError(exc_type, message, python_traceback(frames, exc_type, message))

    def weather(self) -> None:
        rng = self.rng
        city = rng.choice(CITIES)
        day = self.travel_date()
        self.ask(
            rng.choice(
                [
                    f"What's the weather going to be like in {city.name} on {when_text(day)}? "
                    "And what can we do if it rains?",
                    (
                        f"heading to {city.name} {day:%d %b}, any indoor ideas in case the "
                        "weather's bad?"
                    ),
                ]
            )
        )
        calls = self.llm(
            [
                {
                    "type": "tool_use",
                    "name": "get_weather",
                    "input": {"city": city.name, "date": day.isoformat()},
                },
                {
                    "type": "tool_use",
                    "name": "search_activities",
                    "input": {"city": city.name, "indoor_only": True},
                },
            ]
        )
        summary, rain = rng.choice(WEATHER)
        high = rng.randint(2, 16)
        forecast = {
            "city": city.name,
            "date": day.isoformat(),
            "summary": summary,
            "high_c": high,
            "low_c": high - rng.randint(3, 8),
            "precipitation_probability": rain,
        }
        self.tool(calls[0], forecast, slow=(90, 400))
        activities = [
            {"name": name, "category": category, "price": {"amount": price, "currency": "EUR"}}
            for name, category, price in city.activities
        ]
        self.tool(calls[1], {"activities": activities}, slow=(200, 700))
        self.results()
        ideas = "\n".join(
            f"- {a['name']} ({a['category']}, {price_text(a['price']['amount'])})"
            for a in activities
        )
        self.answer(
            f"{city.name} on {when_text(day)}: {summary.lower()}, "
            f"{forecast['low_c']} to {high} °C, "
            f"{int(rain * 100)}% chance of rain.\n\nGood indoor options:\n{ideas}\n\n"
            "Booking museum tickets online usually saves queueing."
        )
        self.completion_rationale = (
            "The forecast and indoor activities answer both parts of the question."
        )
        self.tools_rationale = (
            "get_weather used the right city and date; search_activities was "
            "limited to indoor options as the user asked."
        )

    def change(self) -> None:
        rng = self.rng
        origin, destination = self.cities()
        day = self.travel_date()
        reference = token_id(rng, 6).upper()
        self.ask(
            rng.choice(
                [
                    (
                        f"Can you move my booking {reference} to the day after? Something came "
                        "up at work."
                    ),
                    f"I need to change {reference} to one day later, same route. Is that possible?",
                ]
            )
        )
        calls = self.llm(
            [{"type": "tool_use", "name": "get_booking", "input": {"reference": reference}}]
        )
        current = self.flight_offers(origin, destination, day, direct_only=True)[0]
        fare = rng.choice(["Economy Light", "Economy Classic", "Economy Flex"])
        booking = {
            "booking_reference": reference,
            "status": "CONFIRMED",
            "passengers": [rng.choice(TRAVELLERS)],
            "origin": origin.airport,
            "destination": destination.airport,
            "flight_number": current["flight_number"],
            "departure": current["departure"],
            "fare": fare,
            "change_fee": {"Economy Light": None, "Economy Classic": 70, "Economy Flex": 0}[fare],
        }
        self.tool(calls[0], booking, slow=(150, 600))
        self.results()
        new_day = day + timedelta(days=1)
        calls = self.llm(
            [
                {
                    "type": "tool_use",
                    "name": "search_flights",
                    "input": {
                        "origin": origin.airport,
                        "destination": destination.airport,
                        "date": new_day.isoformat(),
                        "passengers": 1,
                        "direct_only": True,
                    },
                }
            ]
        )
        offers = self.flight_offers(origin, destination, new_day, direct_only=True)
        self.tool(calls[0], {"offers": offers, "currency": "EUR"}, slow=(400, 2400))
        self.results()
        target = offers[0]
        calls = self.llm(
            [
                {
                    "type": "tool_use",
                    "name": "change_booking",
                    "input": {"reference": reference, "offer_id": target["offer_id"]},
                }
            ]
        )
        if fare == "Economy Light":
            message = (
                f"Booking {reference} has an Economy Light fare, which cannot be changed "
                "after purchase."
            )
            self.tool(
                calls[0],
                error=self.tool_error("FareRulesViolation", message, "change_booking"),
                slow=(300, 900),
            )
            self.results()
            self.answer(
                f"I'm sorry, booking {reference} is on an Economy Light fare, which the airline "
                f"doesn't allow to be changed. Options: keep the original flight on "
                f"{when_text(day)}, or buy a new ticket for {when_text(new_day)}; the cheapest "
                f"direct one is {target['flight_number']} at €{target['price']['amount']:.2f}. "
                "Want me to book it?"
            )
            self.completed = False
            self.completion_rationale = (
                "The change was impossible under the fare rules; the "
                "agent offered the alternatives."
            )
            checked_first = rng.random() < 0.5
            self.tools_correct = checked_first
            self.tools_rationale = (
                "get_booking already showed the Economy Light fare (change_fee null); the agent "
                "should have said so before searching and calling change_booking."
                if not checked_first
                else "The calls were reasonable: the fare rules are enforced by change_booking."
            )
            self.error_rationale = (
                "The fare-rules error was explained in plain words with a concrete alternative."
            )
        else:
            fee = booking["change_fee"] or 0
            self.tool(
                calls[0],
                {
                    "booking_reference": reference,
                    "status": "CHANGED",
                    "flight_number": target["flight_number"],
                    "departure": target["departure"],
                    "change_fee": {"amount": fee, "currency": "EUR"},
                },
                slow=(900, 2600),
            )
            self.results()
            self.answer(
                f"Done: {reference} now flies {target['carrier']} {target['flight_number']} on "
                f"{when_text(new_day)}, departing {target['departure'][11:]}. "
                + (
                    f"A change fee of €{fee} was charged."
                    if fee
                    else "Your Flex fare had no change fee."
                )
            )
            self.completion_rationale = "The booking was moved to the next day as asked."
            self.tools_rationale = (
                "The agent read the booking, searched the next day on the "
                "same route and changed to the first direct offer."
            )

    def train(self) -> None:
        rng = self.rng
        a, b, operator, minutes = rng.choice(TRAIN_PAIRS)
        origin, destination = CITY_BY_NAME[a], CITY_BY_NAME[b]
        day = self.travel_date()
        self.ask(
            f"Is it better to take the train or fly from {a} to {b} on {when_text(day)}? I "
            "care about total door-to-door time and price."
        )
        calls = self.llm(
            [
                {"type": "text", "text": "Let me compare both."},
                {
                    "type": "tool_use",
                    "name": "search_trains",
                    "input": {"origin": a, "destination": b, "date": day.isoformat()},
                },
                {
                    "type": "tool_use",
                    "name": "search_flights",
                    "input": {
                        "origin": origin.airport,
                        "destination": destination.airport,
                        "date": day.isoformat(),
                        "passengers": 1,
                        "direct_only": True,
                    },
                },
            ]
        )
        price = rng.randint(39, 149)
        trains = {
            "connections": [
                {
                    "operator": operator,
                    "departure": f"{day.isoformat()}T0{rng.randint(6, 9)}:{rng.randrange(60):02d}",
                    "duration_minutes": minutes,
                    "changes": 0,
                    "price": {"amount": price, "currency": "EUR"},
                }
            ]
        }
        self.tool(calls[0], trains, slow=(300, 1400))
        offers = self.flight_offers(origin, destination, day, direct_only=True)
        self.tool(calls[1], {"offers": offers, "currency": "EUR"}, slow=(400, 2400))
        self.results()
        flight = offers[0]
        self.answer(
            f"**Train** ({operator}): {minutes // 60}h{minutes % 60:02d}, city centre to city "
            f"centre, from €{price}.\n**Flight** ({flight['carrier']} {flight['flight_number']}): "
            f"{flight['duration']} in the air, from €{flight['price']['amount']:.2f}, plus about "
            "2.5 hours for airport transfers and security.\n\n"
            + (
                "The train wins on door-to-door time and is simpler."
                if minutes < 300
                else (
                    "Door to door they are close; the flight is slightly faster, the train "
                    "lets you work on board."
                )
            )
        )
        self.completion_rationale = "Both options were compared on time and price, as asked."
        self.tools_rationale = (
            "search_trains and search_flights were called for the same cities and date."
        )
