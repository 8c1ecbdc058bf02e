"""Content of the docs QA demo: a documentation corpus for a (fictional) payments API and the
questions developers ask about it, each with a good answer, a partial one, a wrong one and the
facts a reviewer expects. Plain data; `docs_qa` turns it into traces."""

from __future__ import annotations

from dataclasses import dataclass

DOCS_URL = "https://docs.lumenpay.dev"


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    path: str
    content: str
    updated: str

    def as_document(self, score: float) -> dict:
        """The shape LangChain / MLflow retrievers return."""
        return {
            "page_content": self.content,
            "metadata": {
                "doc_uri": f"{DOCS_URL}{self.path}",
                "title": self.title,
                "chunk_id": self.id,
                "last_updated": self.updated,
                "score": score,
            },
            "id": self.id,
        }


@dataclass(frozen=True)
class Question:
    topic: str
    phrasings: tuple[str, ...]
    docs: tuple[str, ...]
    answer: str
    partial: str
    missing: str
    wrong: str
    wrong_claim: str
    truth: str
    facts: tuple[str, ...]


DOCS = [
    Doc(
        "auth-001",
        "Authentication",
        "/api/authentication",
        "Every request to the Lumen API is authenticated with a secret key sent in the "
        "Authorization header as a Bearer token. Secret keys start with sk_live_ in live mode and "
        "sk_test_ in test mode. Publishable keys (pk_live_, pk_test_) may appear in browser and "
        "mobile code; they can only create payment method tokens and confirm Payment Intents.",
        "2026-08-19",
    ),
    Doc(
        "auth-002",
        "Rolling API keys",
        "/api/authentication#rolling-keys",
        "Roll a secret key from Dashboard → Developers → API keys. The old key keeps working for "
        "the grace period you choose (1 hour, 24 hours, 3 days or 7 days) so you can deploy the "
        "new key without downtime. Restricted keys limit a key to the resources and permissions "
        "you select, for example read-only access to payouts for a reporting job.",
        "2026-08-19",
    ),
    Doc(
        "limits-001",
        "Rate limits",
        "/api/rate-limits",
        "Live mode allows 100 read and 100 write requests per second per account; test mode "
        "allows 25 of each. Requests over the limit receive HTTP 429 with a Retry-After header. "
        "Retry with exponential backoff and jitter, and keep fewer than 20 concurrent connections. "
        "Search endpoints have a separate limit of 20 requests per second.",
        "2026-06-02",
    ),
    Doc(
        "idem-001",
        "Idempotent requests",
        "/api/idempotency",
        "Send an Idempotency-Key header (any unique string up to 255 characters; a V4 UUID is "
        "recommended) with POST requests. Lumen stores the status code and body of the first "
        "response for 24 hours and returns it for every retry with the same key. A retry with "
        "the same key but different parameters fails with 409 idempotency_key_reused. GET and "
        "DELETE requests are idempotent by definition and ignore the header.",
        "2026-05-11",
    ),
    Doc(
        "pi-001",
        "Payment Intents",
        "/payments/payment-intents",
        "A PaymentIntent tracks one payment from creation to settlement. Create it with POST "
        "/v1/payment_intents, giving amount in the currency's smallest unit (1000 means €10.00) "
        "and currency. Confirm it from the client with the publishable key and the "
        "client_secret; the intent moves through requires_payment_method, requires_action, "
        "processing and succeeded.",
        "2026-09-30",
    ),
    Doc(
        "pi-002",
        "Authorise now, capture later",
        "/payments/capture-later",
        "Set capture_method=manual to authorise a card now and capture the funds later. Card "
        "authorisations are held for 7 days (31 days for hotels, car rental and other lodging "
        "merchant categories); an authorisation that is not captured in time is released "
        "automatically. You may capture less than the authorised amount: the rest is released "
        "to the cardholder.",
        "2026-09-30",
    ),
    Doc(
        "cur-001",
        "Currencies",
        "/payments/currencies",
        "Lumen can charge in 135 currencies. Amounts are integers in the smallest currency unit; "
        "zero-decimal currencies such as JPY and KRW take the amount as is (500 means ¥500). "
        "Payouts are made in your settlement currency: EUR, GBP, USD, SEK, DKK, NOK, CHF or PLN. "
        "Charges in other currencies are converted at the daily rate plus a 2% conversion fee.",
        "2026-04-22",
    ),
    Doc(
        "ref-001",
        "Refunds",
        "/payments/refunds",
        "Refund a payment in full or in part with POST /v1/refunds, giving the payment_intent "
        "and, for a partial refund, an amount. You can issue several partial refunds until their "
        "total reaches the captured amount. Refunds are possible up to 180 days after the "
        "original charge; after that, send the money by another means.",
        "2026-07-14",
    ),
    Doc(
        "ref-002",
        "Refund timing and fees",
        "/payments/refunds#timing",
        "Refunds reach the customer's card in 5 to 10 business days, depending on the issuing "
        "bank. Lumen does not return the processing fee of the original charge when you refund "
        "it. A refund can fail, for example when the card was closed: you then receive a "
        "refund.failed event and the amount returns to your balance.",
        "2026-07-14",
    ),
    Doc(
        "wh-001",
        "Webhook endpoints",
        "/webhooks/endpoints",
        "Create webhook endpoints in Dashboard → Developers → Webhooks or with POST "
        "/v1/webhook_endpoints, choosing the event types to receive. Endpoints must be served "
        "over HTTPS with a valid certificate and answer with a 2xx status within 10 seconds; "
        "do slow work after answering, in a background job.",
        "2026-10-03",
    ),
    Doc(
        "wh-002",
        "Verifying webhook signatures",
        "/webhooks/signatures",
        "Each webhook request carries a Lumen-Signature header with a timestamp t and a v1 "
        'signature: the HMAC-SHA256 of "{t}.{raw body}" keyed with the endpoint\'s signing '
        "secret (whsec_…). Compute it over the raw request body, before any JSON parsing, "
        "compare in constant time, and reject events whose timestamp is more than 5 minutes old "
        "to prevent replay attacks. The SDKs provide webhooks.construct_event for this.",
        "2026-10-03",
    ),
    Doc(
        "wh-003",
        "Webhook retries and ordering",
        "/webhooks/retries",
        "If your endpoint does not answer with a 2xx status, Lumen retries with exponential "
        "backoff for up to 3 days in live mode; in test mode it tries 3 times over a few hours. "
        "Events can arrive more than once and out of order: deduplicate on the event id and "
        "fetch the object when order matters. After 3 days of failures the endpoint is disabled "
        "and the account owner is emailed.",
        "2026-10-03",
    ),
    Doc(
        "disp-001",
        "Disputes",
        "/payments/disputes",
        "When a cardholder disputes a payment, Lumen debits the disputed amount plus a €15 "
        "dispute fee from your balance and sends charge.dispute.created. Submit evidence within "
        "7 days from the Dashboard or with POST /v1/disputes/{id}/evidence. If the bank rules in "
        "your favour, the amount and the fee are returned.",
        "2026-03-18",
    ),
    Doc(
        "pay-001",
        "Payout schedule",
        "/payouts/schedule",
        "New accounts are paid out on a 7-day rolling schedule during their first 30 days. After "
        "that the default is daily payouts with a 2-business-day delay. You can switch to weekly, "
        "monthly or manual payouts in Settings → Payouts; only Administrators can change it.",
        "2026-02-27",
    ),
    Doc(
        "pay-002",
        "Failed payouts",
        "/payouts/failures",
        "Payouts below €1 (or the equivalent in your settlement currency) are carried over to "
        "the next payout. A payout fails when the bank account details are wrong or the account "
        "is closed; Lumen then pauses payouts and sends payout.failed until an Administrator "
        "updates the bank account.",
        "2026-02-27",
    ),
    Doc(
        "test-001",
        "Testing",
        "/testing",
        "Test mode uses test keys and never moves real money. Use the card 4242 4242 4242 4242 "
        "with any future expiry date and any CVC for a successful payment, 4000 0000 0000 9995 "
        "for an insufficient-funds decline and 4000 0027 6000 3184 to trigger 3-D Secure "
        "authentication. Test webhooks with the CLI: lumen listen --forward-to localhost:8000.",
        "2026-10-21",
    ),
    Doc(
        "sca-001",
        "Strong Customer Authentication",
        "/payments/sca",
        "Strong Customer Authentication applies to customers in the EEA and the UK. Payment "
        "Intents request 3-D Secure automatically when the issuer requires it: the intent moves "
        "to requires_action and the client SDK shows the challenge. Save a card with "
        "setup_future_usage=off_session to charge it later without the customer present.",
        "2026-09-30",
    ),
    Doc(
        "sub-001",
        "Subscriptions",
        "/billing/subscriptions",
        "A Subscription charges a customer on a recurring schedule defined by a Price: amount, "
        "currency and interval (day, week, month or year, with interval_count). The first "
        "invoice is created and charged immediately unless you set trial_period_days or a "
        "billing_cycle_anchor.",
        "2026-08-05",
    ),
    Doc(
        "sub-002",
        "Failed subscription payments",
        "/billing/failed-payments",
        "When a renewal payment fails, Smart Retries tries again up to 4 times over 2 weeks; "
        "change the schedule in Settings → Billing → Retries. Meanwhile the subscription is "
        "past_due. After the last retry it is cancelled, marked unpaid or left past_due, as your "
        "settings say, and customer.subscription.updated is sent.",
        "2026-08-05",
    ),
    Doc(
        "sub-003",
        "Changing plans and proration",
        "/billing/proration",
        "Changing a subscription's price in the middle of a billing period creates proration "
        "items by default: the customer is credited for the unused time on the old price and "
        "charged for the rest of the period on the new one, on the next invoice. Pass "
        "proration_behavior=none to switch without proration, or always_invoice to bill the "
        "difference at once.",
        "2026-08-05",
    ),
    Doc(
        "sdk-001",
        "Client libraries",
        "/libraries",
        "Official libraries exist for Python (lumen-python), Node.js (@lumen/node), Ruby, PHP, "
        "Go and Java. Each library pins the API version it was released with; set the "
        "Lumen-Version header to override it per request.",
        "2026-07-01",
    ),
    Doc(
        "ver-001",
        "API versions",
        "/api/versioning",
        "Breaking changes ship in a new dated API version; the current one is 2026-07-01. Your "
        "account's default version is the one current when it was created. Upgrade it in "
        "Developers → API version; you can roll back within 72 hours. Webhook endpoints keep "
        "the version they were created with.",
        "2026-07-01",
    ),
    Doc(
        "err-001",
        "Errors",
        "/api/errors",
        "Errors return JSON with type (api_error, card_error, idempotency_error or "
        "invalid_request_error), code, message and, for invalid parameters, param. Card "
        "declines return HTTP 402 with a decline_code such as insufficient_funds or "
        "do_not_honor. Do not retry do_not_honor declines automatically: ask the customer for "
        "another payment method.",
        "2026-06-02",
    ),
    Doc(
        "page-001",
        "Pagination",
        "/api/pagination",
        "List endpoints return up to 100 objects per page (10 by default, set with limit) and "
        "use cursor pagination: pass starting_after with the id of the last object you "
        "received. has_more tells you whether another page exists. The SDKs offer "
        "auto_paging_iter() to walk every page.",
        "2026-06-02",
    ),
    Doc(
        "fee-001",
        "Pricing and fees",
        "/pricing",
        "Standard pricing is 1.4% + €0.25 per successful charge for European cards and 2.9% + "
        "€0.25 for international cards. Currency conversion adds 2%. Fees are deducted from "
        "each payment before it reaches your balance; invoices for fees are available monthly "
        "in Settings → Documents.",
        "2026-01-15",
    ),
    Doc(
        "meta-001",
        "Metadata",
        "/api/metadata",
        "Most objects accept metadata: up to 50 keys, with key names up to 40 characters and "
        "values up to 500 characters. Lumen does not use metadata and returns it unchanged. "
        "Never store card numbers, passwords or other sensitive data in metadata.",
        "2026-06-02",
    ),
    Doc(
        "team-001",
        "Team members and roles",
        "/dashboard/team",
        "Invite teammates in Settings → Team with a role: Administrator, Developer, Analyst, "
        "Support specialist or View only. Only Administrators can change bank details, payout "
        "settings and team roles. Two-factor authentication is required for every user.",
        "2026-05-29",
    ),
]

DOCS_BY_ID = {doc.id: doc for doc in DOCS}

QUESTIONS = [
    Question(
        topic="the refund window",
        phrasings=(
            "How long after a payment can I still refund it?",
            "Is there a time limit on refunds?",
            (
                "A customer wants their money back for an order from March. Can I still refund "
                "via the API?"
            ),
        ),
        docs=("ref-001", "ref-002"),
        answer="You can refund a payment up to 180 days after the original charge, in full or in "
        "part, with POST /v1/refunds (pass the payment_intent and, for a partial refund, an "
        "amount). The customer sees the money 5 to 10 business days later, and Lumen keeps the "
        "processing fee of the original charge. Past 180 days you have to send the money by "
        "another means.",
        partial="Yes, you can refund it with POST /v1/refunds, either in full or with an amount "
        "for a partial refund.",
        missing="the 180-day limit, which is what was asked",
        wrong="You can refund a payment up to 365 days after the charge with POST /v1/refunds. "
        "Lumen also returns the processing fee when you refund.",
        wrong_claim="refunds are possible for 365 days and the fee is returned",
        truth="the limit is 180 days and the processing fee is not returned",
        facts=(
            "Refunds are possible up to 180 days after the charge",
            "Partial refunds are allowed",
            "The processing fee is not returned",
        ),
    ),
    Question(
        topic="webhook signature verification",
        phrasings=(
            "How do I verify that a webhook really comes from Lumen?",
            "what's the right way to check the Lumen-Signature header in python",
            (
                "Our webhook handler parses JSON first and then verifies the signature, and it "
                "keeps failing. Why?"
            ),
        ),
        docs=("wh-002", "wh-001"),
        answer="Each webhook carries a Lumen-Signature header with a timestamp t and a v1 "
        'signature, the HMAC-SHA256 of "{t}.{raw body}" keyed with your endpoint\'s signing '
        "secret (whsec_…). Compute it over the raw request body before parsing the JSON "
        "(re-serialised JSON will not match), compare it in constant time, and reject events "
        "older than 5 minutes. In Python, lumen.webhooks.construct_event(payload, sig_header, "
        "secret) does all of this for you.",
        partial="Compute an HMAC-SHA256 with your signing secret and compare it with the "
        "signature in the Lumen-Signature header.",
        missing="that the signature covers the raw body and the timestamp, and the 5-minute "
        "replay window",
        wrong="Lumen signs webhooks with RSA; download the public key from the Dashboard and "
        "verify the Lumen-Signature header against the parsed JSON payload.",
        wrong_claim="webhooks are signed with RSA over the parsed JSON",
        truth="the signature is an HMAC-SHA256 over the timestamp and the raw body",
        facts=(
            "The signature is HMAC-SHA256 of the timestamp and the raw body",
            "Verify before parsing the JSON",
            "Reject events older than 5 minutes",
        ),
    ),
    Question(
        topic="rate limits",
        phrasings=(
            "What are the API rate limits?",
            (
                "We are getting 429s during our nightly sync. What is the limit and how should "
                "we retry?"
            ),
            "how many requests per second can I make in test mode",
        ),
        docs=("limits-001",),
        answer="Live mode allows 100 read and 100 write requests per second per account, test "
        "mode 25 of each, and search endpoints have their own limit of 20 per second. Above "
        "that you get HTTP 429 with a Retry-After header: retry with exponential backoff and "
        "jitter, and keep fewer than 20 concurrent connections.",
        partial="Requests over the limit get HTTP 429; retry them with exponential backoff.",
        missing="the actual limits (100 per second live, 25 in test mode)",
        wrong="The limit is 1,000 requests per minute in both live and test mode; requests "
        "over it are queued and processed later.",
        wrong_claim="the limit is 1,000 requests per minute and excess requests are queued",
        truth="it is 100 reads and 100 writes per second (25 in test mode) and excess requests "
        "get 429",
        facts=(
            "100 read and 100 write requests per second in live mode",
            "25 per second in test mode",
            "HTTP 429 with Retry-After above the limit",
        ),
    ),
    Question(
        topic="idempotency keys",
        phrasings=(
            "How do idempotency keys work?",
            "If my server times out creating a payment, can I safely retry the POST?",
            "How long are idempotency keys remembered?",
        ),
        docs=("idem-001",),
        answer="Send an Idempotency-Key header (a V4 UUID is a good choice) with the POST. Lumen "
        "stores the first response for 24 hours and returns it for any retry with the same key, "
        "so retrying after a timeout cannot create a second payment. Reusing the key with "
        "different parameters fails with 409 idempotency_key_reused.",
        partial="Add an Idempotency-Key header to your POST requests and retry with the same key.",
        missing="that keys are kept for 24 hours and that different parameters give a 409",
        wrong="Idempotency keys are stored permanently, so you can retry a request with the "
        "same key at any time, even weeks later.",
        wrong_claim="idempotency keys are stored permanently",
        truth="responses are kept for 24 hours",
        facts=(
            "Use the Idempotency-Key header on POST requests",
            "Keys are remembered for 24 hours",
            "Different parameters with the same key give 409",
        ),
    ),
    Question(
        topic="authorisation holds",
        phrasings=(
            "How long can I wait before capturing an authorised payment?",
            "We're a hotel. Can we authorise at booking and capture at checkout 3 weeks later?",
            "Can I capture less than I authorised?",
        ),
        docs=("pi-002", "pi-001"),
        answer="With capture_method=manual a card authorisation is held for 7 days, or 31 days "
        "for hotels, car rental and other lodging merchants. If you don't capture in time, the "
        "authorisation is released. You can capture less than the authorised amount; the rest "
        "is released to the cardholder.",
        partial="Use capture_method=manual and capture the payment later.",
        missing="how long the authorisation is held (7 days, 31 for lodging)",
        wrong="Authorisations are held for 30 days for every merchant, and you must capture the "
        "full authorised amount.",
        wrong_claim="every authorisation lasts 30 days and must be captured in full",
        truth="holds last 7 days (31 for lodging) and partial capture is allowed",
        facts=(
            "Authorisations are held for 7 days",
            "31 days for hotels and car rental",
            "Partial capture releases the rest",
        ),
    ),
    Question(
        topic="zero-decimal currencies",
        phrasings=(
            "How do I send amounts in JPY?",
            "Is amount=500 five yen or five hundred yen?",
            "Which currencies can I get paid out in?",
        ),
        docs=("cur-001", "pi-001"),
        answer="Amounts are integers in the currency's smallest unit, but zero-decimal "
        "currencies such as JPY and KRW take the amount as is: amount=500 with currency=jpy "
        "charges ¥500. Payouts go to your settlement currency (EUR, GBP, USD, SEK, DKK, NOK, "
        "CHF or PLN); other currencies are converted at the daily rate plus 2%.",
        partial="Amounts are integers in the smallest currency unit.",
        missing="that JPY is a zero-decimal currency, so 500 means ¥500",
        wrong="Multiply yen amounts by 100 like any other currency: ¥500 is amount=50000.",
        wrong_claim="yen amounts must be multiplied by 100",
        truth="JPY is zero-decimal and the amount is taken as is",
        facts=("JPY and KRW are zero-decimal currencies", "500 means ¥500"),
    ),
    Question(
        topic="webhook retries",
        phrasings=(
            "What happens if my webhook endpoint is down for a few hours?",
            "Do webhooks get retried? Our endpoint was returning 500s over the weekend.",
            "Can the same webhook event be delivered twice?",
        ),
        docs=("wh-003", "wh-001"),
        answer="Lumen retries undelivered events with exponential backoff for up to 3 days in "
        "live mode (3 attempts over a few hours in test mode), so a few hours of downtime loses "
        "nothing. Events can arrive more than once and out of order, so deduplicate on the "
        "event id. After 3 days of failures the endpoint is disabled and the account owner is "
        "emailed.",
        partial="Failed deliveries are retried automatically with exponential backoff.",
        missing="the 3-day retry window and the possibility of duplicates",
        wrong="Lumen retries each event once after 10 minutes and then drops it; use the "
        "Events API to recover anything missed.",
        wrong_claim="events are retried only once after 10 minutes",
        truth="events are retried with backoff for up to 3 days",
        facts=(
            "Retries for up to 3 days in live mode",
            "Events can be delivered more than once",
            "The endpoint is disabled after 3 days of failures",
        ),
    ),
    Question(
        topic="dispute fees",
        phrasings=(
            "How much does a dispute cost?",
            "We got a chargeback. What's the deadline to respond?",
            "Do I get the dispute fee back if I win?",
        ),
        docs=("disp-001",),
        answer="A dispute debits the disputed amount plus a €15 fee from your balance. Submit "
        "evidence within 7 days, from the Dashboard or with POST /v1/disputes/{id}/evidence. "
        "If the bank rules in your favour, both the amount and the €15 fee are returned.",
        partial="Lumen charges a dispute fee and you can submit evidence in the Dashboard.",
        missing="the €15 fee and the 7-day deadline",
        wrong="Disputes cost €25 and you have 21 days to respond; the fee is not refunded even "
        "if you win.",
        wrong_claim="the fee is €25, the deadline 21 days and the fee is never refunded",
        truth="the fee is €15, evidence is due within 7 days and the fee is returned on a win",
        facts=(
            "The dispute fee is €15",
            "Evidence is due within 7 days",
            "The fee is returned if you win",
        ),
    ),
    Question(
        topic="the payout schedule",
        phrasings=(
            "When will I receive my first payout?",
            "Why are payouts taking a week? We signed up last Monday.",
            "Can I get paid out weekly instead of daily?",
        ),
        docs=("pay-001", "pay-002"),
        answer="New accounts are paid out on a 7-day rolling schedule for their first 30 days, "
        "which is why your first payouts take a week. After that the default is daily payouts "
        "with a 2-business-day delay. An Administrator can switch to weekly, monthly or manual "
        "payouts in Settings → Payouts.",
        partial="Payouts are made daily with a 2-business-day delay.",
        missing="the 7-day rolling schedule that applies to new accounts",
        wrong="All accounts are paid out monthly on the first business day; the schedule "
        "cannot be changed.",
        wrong_claim="payouts are monthly and the schedule cannot be changed",
        truth="new accounts have a 7-day rolling schedule, then daily payouts, configurable",
        facts=(
            "New accounts have a 7-day rolling schedule for 30 days",
            "Then daily payouts with a 2-business-day delay",
            "Weekly, monthly or manual payouts can be chosen",
        ),
    ),
    Question(
        topic="test cards",
        phrasings=(
            "Which card number do I use for testing?",
            "How can I simulate a declined card in test mode?",
            "test card for 3ds?",
        ),
        docs=("test-001", "sca-001"),
        answer="In test mode use 4242 4242 4242 4242 with any future expiry date and any CVC "
        "for a successful payment, 4000 0000 0000 9995 for an insufficient-funds decline and "
        "4000 0027 6000 3184 to trigger 3-D Secure. Test mode never moves real money.",
        partial="Use 4242 4242 4242 4242 with any future expiry date.",
        missing="the cards for declines and 3-D Secure",
        wrong="Use 4111 1111 1111 1111 for successful payments and 4000 0000 0000 0002 for "
        "3-D Secure.",
        wrong_claim="the test cards are 4111 1111 1111 1111 and 4000 0000 0000 0002",
        truth="the documented cards are 4242…, 4000 0000 0000 9995 and 4000 0027 6000 3184",
        facts=(
            "4242 4242 4242 4242 succeeds",
            "4000 0000 0000 9995 is declined for insufficient funds",
            "4000 0027 6000 3184 triggers 3-D Secure",
        ),
    ),
    Question(
        topic="failed subscription renewals",
        phrasings=(
            "What happens when a subscription renewal payment fails?",
            "How many times do you retry a failed subscription charge?",
            "A customer's card expired. Will their subscription be cancelled straight away?",
        ),
        docs=("sub-002", "sub-001"),
        answer="It isn't cancelled straight away: Smart Retries tries the payment again up to 4 "
        "times over 2 weeks, and the subscription is past_due meanwhile. After the last retry "
        "it is cancelled, marked unpaid or left past_due, depending on Settings → Billing → "
        "Retries, and customer.subscription.updated is sent.",
        partial="Lumen retries the payment automatically and the subscription becomes past_due.",
        missing="the retry schedule (4 times over 2 weeks) and what happens afterwards",
        wrong="The subscription is cancelled immediately when a renewal fails, and the "
        "customer must subscribe again.",
        wrong_claim="the subscription is cancelled immediately",
        truth="Smart Retries tries 4 times over 2 weeks before the configured outcome",
        facts=(
            "Smart Retries retries up to 4 times over 2 weeks",
            "The subscription is past_due meanwhile",
            "The final outcome is configurable",
        ),
    ),
    Question(
        topic="proration",
        phrasings=(
            "How does proration work when a customer upgrades mid-month?",
            "Can I change a subscription's plan without charging the difference?",
        ),
        docs=("sub-003", "sub-001"),
        answer="By default a mid-period price change creates proration items: the customer is "
        "credited for the unused time on the old price and charged for the rest of the period "
        "on the new one, on the next invoice. Pass proration_behavior=none to switch without "
        "proration, or always_invoice to bill the difference immediately.",
        partial="Lumen prorates plan changes automatically.",
        missing="how to turn proration off (proration_behavior=none) or bill at once",
        wrong="Proration is off by default; set prorate=true on the subscription to enable it.",
        wrong_claim="proration is off by default and enabled with prorate=true",
        truth="proration is on by default and controlled with proration_behavior",
        facts=(
            "Proration is on by default",
            "proration_behavior=none disables it",
            "always_invoice bills the difference at once",
        ),
    ),
    Question(
        topic="rolling a leaked API key",
        phrasings=(
            "I accidentally committed our secret key to GitHub. What do I do?",
            "How do I rotate an API key without downtime?",
        ),
        docs=("auth-002", "auth-001"),
        answer="Roll the key right away in Dashboard → Developers → API keys. For a leaked key "
        "choose the shortest grace period (1 hour) so the old key stops working quickly; for a "
        "planned rotation pick up to 7 days so you can deploy the new key without downtime. "
        "Consider restricted keys so each service only has the permissions it needs.",
        partial="Roll the key in Dashboard → Developers → API keys.",
        missing="the grace period choice (1 hour for a leak)",
        wrong="Delete the key in the Dashboard; a new key is emailed to the account owner within "
        "24 hours.",
        wrong_claim="a new key is emailed within 24 hours after deleting the old one",
        truth="you roll the key yourself and choose a grace period from 1 hour to 7 days",
        facts=(
            "Roll the key in Developers → API keys",
            "Grace periods range from 1 hour to 7 days",
        ),
    ),
    Question(
        topic="publishable keys in the browser",
        phrasings=(
            "Is it safe to put my API key in the frontend JavaScript?",
            "Which key goes in our mobile app?",
        ),
        docs=("auth-001",),
        answer="Only the publishable key (pk_live_… or pk_test_…) belongs in browser or mobile "
        "code: it can only create payment method tokens and confirm Payment Intents. Never ship "
        "a secret key (sk_live_…); keep it on your server and send it as a Bearer token.",
        partial="Use the publishable key in the frontend.",
        missing="that secret keys must never be shipped to clients",
        wrong="Yes, you can use your secret key in the frontend as long as the site uses HTTPS.",
        wrong_claim="a secret key is safe in the frontend over HTTPS",
        truth="only publishable keys may be used in client code",
        facts=(
            "Publishable keys may be used in client code",
            "Secret keys must stay on the server",
        ),
    ),
    Question(
        topic="decline codes",
        phrasings=(
            "Should we automatically retry declined cards?",
            "What does do_not_honor mean and can I retry it?",
        ),
        docs=("err-001",),
        answer="Card declines come back as HTTP 402 with a decline_code. Don't retry "
        "do_not_honor automatically: the issuer refused without a reason, so ask the customer "
        "for another payment method. Codes such as insufficient_funds may succeed later, but "
        "only retry with the customer's agreement.",
        partial="Declines return HTTP 402 with a decline_code.",
        missing="the advice not to retry do_not_honor automatically",
        wrong="Retry do_not_honor declines up to 5 times with a one-minute pause; most succeed "
        "on the second attempt.",
        wrong_claim="do_not_honor declines should be retried 5 times",
        truth="do_not_honor declines should not be retried automatically",
        facts=(
            "Declines return HTTP 402 with a decline_code",
            "Do not retry do_not_honor automatically",
        ),
    ),
    Question(
        topic="pagination",
        phrasings=(
            "How do I list all payments, not just the first 10?",
            "What's the max page size for list endpoints?",
        ),
        docs=("page-001",),
        answer="List endpoints return 10 objects by default and up to 100 with limit=100. To go "
        "further, pass starting_after with the id of the last object and repeat while has_more "
        "is true, or let the SDK do it with auto_paging_iter().",
        partial="Pass limit=100 to get more objects per page.",
        missing="cursor pagination with starting_after and has_more",
        wrong="Use page=2, page=3 and so on; each page holds up to 1,000 objects.",
        wrong_claim="pages are numbered and hold up to 1,000 objects",
        truth="pagination uses starting_after cursors and pages hold at most 100 objects",
        facts=(
            "Up to 100 objects per page",
            "Use starting_after and has_more",
            "SDKs offer auto_paging_iter()",
        ),
    ),
    Question(
        topic="fees",
        phrasings=(
            "What are your fees for European cards?",
            "How much does Lumen charge per transaction for a US card?",
        ),
        docs=("fee-001", "cur-001"),
        answer="Standard pricing is 1.4% + €0.25 per successful charge for European cards and "
        "2.9% + €0.25 for international cards such as US cards; currency conversion adds 2%. "
        "Fees are deducted from each payment before it reaches your balance.",
        partial="Fees depend on where the card was issued.",
        missing="the actual rates",
        wrong="Lumen charges a flat 1.9% for every card, with no fixed fee.",
        wrong_claim="there is a flat 1.9% fee with no fixed part",
        truth="rates are 1.4% + €0.25 (European) and 2.9% + €0.25 (international)",
        facts=("1.4% + €0.25 for European cards", "2.9% + €0.25 for international cards"),
    ),
    Question(
        topic="metadata limits",
        phrasings=(
            "How much metadata can I attach to a payment?",
            "Can I store the customer's card number in metadata for reconciliation?",
        ),
        docs=("meta-001",),
        answer="Up to 50 keys, with key names up to 40 characters and values up to 500. Do not "
        "store card numbers, passwords or other sensitive data there; use the payment method id "
        "for reconciliation instead.",
        partial="Metadata accepts up to 50 keys.",
        missing="the warning against storing card numbers",
        wrong="Metadata is encrypted at rest, so it is fine to store card numbers there.",
        wrong_claim="card numbers may be stored in metadata because it is encrypted",
        truth="sensitive data must never be stored in metadata",
        facts=("Up to 50 keys", "Keys up to 40 characters, values up to 500", "No sensitive data"),
    ),
    Question(
        topic="API versions",
        phrasings=(
            "How do I upgrade our API version safely?",
            "Which API version do webhooks use?",
        ),
        docs=("ver-001", "sdk-001"),
        answer="Upgrade in Developers → API version; you can roll back within 72 hours if "
        "something breaks. Test first by sending the Lumen-Version header on individual "
        "requests. Webhook endpoints keep the version they were created with, so create a new "
        "endpoint to receive payloads in the new version.",
        partial="Upgrade in Developers → API version.",
        missing="the 72-hour rollback and the webhook endpoint versions",
        wrong="API versions upgrade automatically every quarter; webhooks always use the "
        "latest version.",
        wrong_claim="versions upgrade automatically and webhooks use the latest version",
        truth="upgrades are manual with a 72-hour rollback and endpoints keep their version",
        facts=(
            "Upgrades can be rolled back within 72 hours",
            "Webhook endpoints keep their version",
        ),
    ),
    Question(
        topic="team roles",
        phrasings=(
            "Who can change our bank account details?",
            "What roles can I give to our support team?",
        ),
        docs=("team-001", "pay-002"),
        answer="Only Administrators can change bank details, payout settings and roles. For a "
        "support team, the Support specialist role fits; other roles are Developer, Analyst "
        "and View only. Every user needs two-factor authentication.",
        partial="Administrators can change bank details.",
        missing="the other roles and the two-factor requirement",
        wrong="Any Developer can change bank details, and two-factor authentication is optional.",
        wrong_claim="Developers can change bank details and 2FA is optional",
        truth="only Administrators can, and 2FA is required",
        facts=(
            "Only Administrators can change bank details",
            "Two-factor authentication is required",
        ),
    ),
]

# Questions nobody documented: the assistant should say so rather than invent an answer.
UNANSWERABLE = [
    "Do you support Bitcoin payments?",
    "Can I get a dedicated account manager on the starter plan?",
    "Is there a GraphQL API?",
    "What is your SOC 2 report date?",
]

SYSTEM_PROMPT = (
    "You are the Lumen Payments documentation assistant. Answer the developer's question using "
    "only the numbered context passages. Cite the passages you used as [n]. If the context does "
    "not contain the answer, say so plainly and point to support@lumenpay.dev. Be concise."
)
