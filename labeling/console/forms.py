"""Forms of the curator console: schemas, sessions, adding traces, labeler accounts.

The schema form checks an input kind's settings with `labeling.inputs` (the same classes that
check answers), so a rule such as "options must be unique" lives in one place; this module only
decides which form field an error belongs next to.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import SetPasswordForm, UserCreationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from accounts.services import LABELERS_GROUP, validate_username
from labeling.inputs import InputSpec, parse_input
from labeling.models import (
    INSTRUCTIONS_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    InputType,
    LabelingSchema,
    LabelingSession,
    SessionStatus,
)
from labeling.services import SchemaFields, SessionFields
from labeling.session_items import MAX_SAMPLE_SIZE
from traces.models import NAME_MAX_LENGTH, AssessmentKind, Experiment, Span, SpanType
from traces.services import validate_name

# The settings fields of each input kind, in the order the form shows them.
SETTINGS_FIELDS: dict[str, tuple[str, ...]] = {
    InputType.PASS_FAIL: ("positive_label", "negative_label"),
    InputType.CATEGORICAL: ("options", "multi"),
    InputType.CATEGORICAL_LIST: ("options",),
    InputType.NUMERIC: ("min_value", "max_value", "step"),
    InputType.TEXT: ("max_length",),
    InputType.TEXT_LIST: ("max_length_each", "max_count"),
}
ALL_SETTINGS_FIELDS = tuple(dict.fromkeys(f for fs in SETTINGS_FIELDS.values() for f in fs))

# How the form groups the settings: (legend, fields, input kinds the group is shown for).
SETTINGS_GROUPS = (
    ("Button labels", ("positive_label", "negative_label"), (InputType.PASS_FAIL,)),
    ("Choices", ("options", "multi"), (InputType.CATEGORICAL, InputType.CATEGORICAL_LIST)),
    ("Range", ("min_value", "max_value", "step"), (InputType.NUMERIC,)),
    ("Length limit", ("max_length",), (InputType.TEXT,)),
    ("Entries", ("max_count", "max_length_each"), (InputType.TEXT_LIST,)),
)

# Errors that involve two settings, and the field they are shown next to.
CROSS_FIELD_ERRORS = {"labels_unique": "negative_label", "min_max": "max_value"}

INPUT_TYPE_HELP = {
    InputType.PASS_FAIL: "Two large buttons, e.g. Pass / Fail. The answer is true or false.",
    InputType.CATEGORICAL: "Pick one of your options (or several, if you allow it).",
    InputType.CATEGORICAL_LIST: "Pick any number of your options; the answer is a list.",
    InputType.NUMERIC: "A number, optionally between a minimum and a maximum.",
    InputType.TEXT: "Free text, optionally with a length limit.",
    InputType.TEXT_LIST: "Several short texts, one per row (e.g. missing facts).",
}


class ConsoleFormMixin:
    """Console forms: labels without a trailing colon."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class InputTypeSelect(forms.RadioSelect):
    """Input kinds as cards with a one-line description each."""

    option_template_name = "labeling/console/_input_type_option.html"

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        option["help"] = INPUT_TYPE_HELP.get(option["value"], "")
        return option


class SchemaForm(ConsoleFormMixin, forms.Form):
    name = forms.CharField(
        label="Name",
        help_text="Becomes the label (assessment) name, e.g. <code>correctness</code>. "
        "Unique in the experiment.",
        widget=forms.TextInput(
            attrs={
                "maxlength": NAME_MAX_LENGTH,
                "autocomplete": "off",
                "data-slug-from": "id_title",
            }
        ),
        strip=True,
    )
    kind = forms.ChoiceField(
        label="Type",
        choices=AssessmentKind.choices,
        initial=AssessmentKind.FEEDBACK,
        widget=forms.RadioSelect,
        help_text="Feedback judges the trace; an expectation records the ground truth.",
    )
    title = forms.CharField(
        label="Question",
        max_length=TITLE_MAX_LENGTH,
        help_text="As labelers read it, e.g. “Is the answer correct?”",
    )
    instruction = forms.CharField(
        label="Instructions",
        required=False,
        max_length=INSTRUCTIONS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional guidance shown under the question. Markdown.",
    )
    enable_comment = forms.BooleanField(
        label="Ask for a comment (why?) with each answer", required=False
    )
    optional = forms.BooleanField(
        label="Optional: labelers may submit an item without answering it",
        required=False,
        help_text="Required questions must be answered before Submit & next (labelers can "
        "always skip an item).",
    )
    target_span_type = forms.CharField(
        label="Ask about spans of type",
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"list": "span-types", "autocomplete": "off"}),
        help_text="Leave empty to ask about the whole trace. With a type such as "
        "<code>RETRIEVER</code>, the question is asked once per span of that type.",
    )
    input_type = forms.ChoiceField(
        label="Answer kind",
        choices=InputType.choices,
        initial=InputType.PASS_FAIL,
        widget=InputTypeSelect,
    )
    # Settings of the input kinds; only those of the chosen kind are read.
    positive_label = forms.CharField(label="Positive label", required=False, initial="Pass")
    negative_label = forms.CharField(label="Negative label", required=False, initial="Fail")
    options = forms.CharField(
        label="Options",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One per line, in the order labelers see them.",
    )
    multi = forms.BooleanField(label="Allow several answers", required=False)
    min_value = forms.CharField(
        label="Minimum",
        required=False,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    max_value = forms.CharField(
        label="Maximum",
        required=False,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    step = forms.CharField(
        label="Step",
        required=False,
        widget=forms.NumberInput(attrs={"step": "any"}),
        help_text="Optional, e.g. 1 for whole numbers or 0.5.",
    )
    max_length = forms.CharField(
        label="Maximum length",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1}),
        help_text="Characters; leave empty for no limit.",
    )
    max_length_each = forms.CharField(
        label="Maximum length of each entry",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1}),
        help_text="Characters; leave empty for no limit.",
    )
    max_count = forms.CharField(
        label="Maximum number of entries",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1}),
        help_text="Leave empty for no limit.",
    )

    def __init__(
        self,
        data: Any = None,
        *,
        experiment: Experiment,
        instance: LabelingSchema | None = None,
        locked: bool = False,
        **kwargs: Any,
    ) -> None:
        if instance is not None:
            # Also for bound forms: locked (disabled) fields take their value from here.
            kwargs.setdefault("initial", schema_initial(instance))
        super().__init__(data, **kwargs)
        self.experiment = experiment
        self.instance = instance
        self.locked = locked
        self.spec: InputSpec | None = None
        if locked:
            # Answers exist: the kind and type stay as they are, whatever is posted.
            for name in ("kind", "input_type"):
                self.fields[name].disabled = True
                self.fields[name].help_text = "Locked: this schema already has answers."

    @property
    def span_types(self) -> tuple[str, ...]:
        return SpanType.ALL

    def clean_name(self) -> str:
        try:
            name = validate_name(self.cleaned_data["name"])
        except ValidationError as error:
            raise ValidationError(error.messages[0], code="name") from None
        taken = LabelingSchema.objects.filter(experiment=self.experiment, name=name)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        existing = taken.only("archived").first()
        if existing is not None:
            raise ValidationError(
                f"This experiment already has a schema named “{name}”"
                + (" (archived)." if existing.archived else "."),
                code="name_taken",
            )
        return name

    def clean_target_span_type(self) -> str:
        """A known span type (any case: "retriever" is RETRIEVER), or one that spans of this
        experiment have; anything else would never be asked."""
        value = self.cleaned_data["target_span_type"].strip()
        if not value:
            return value
        known = {span_type.upper(): span_type for span_type in SpanType.ALL}
        if value.upper() in known:
            return known[value.upper()]
        if Span.objects.filter(trace__experiment=self.experiment, span_type=value).exists():
            return value
        raise ValidationError(
            f"No span of this experiment has the type “{value}”, so the question would never "
            f"be asked. Choose one of {', '.join(SpanType.ALL)}, or leave it empty.",
            code="span_type",
        )

    def settings_config(self, input_type: str) -> dict[str, Any]:
        """The posted settings of `input_type`, as `labeling.inputs` expects them."""
        config: dict[str, Any] = {}
        for name in SETTINGS_FIELDS.get(input_type, ()):
            value = self.cleaned_data.get(name)
            if name == "options":
                value = [line.strip() for line in (value or "").splitlines() if line.strip()]
            elif name == "multi":
                value = bool(value)
            elif isinstance(value, str):
                value = value.strip()
            config[name] = value
        return config

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        input_type = cleaned.get("input_type")
        if not input_type:
            return cleaned
        config = self.settings_config(input_type)
        # Each setting on its own first, so its error shows next to it ...
        for name, value in config.items():
            if isinstance(value, bool):
                continue  # a switch cannot be wrong on its own
            try:
                parse_input(input_type, {name: value}).check_limits()
            except ValidationError as error:
                if error.code not in CROSS_FIELD_ERRORS:
                    self.add_error(name, error.messages)
        if any(name in self.errors for name in config):
            return cleaned
        # ... then together (the minimum below the maximum, two different labels).
        try:
            self.spec = parse_input(input_type, config)
        except ValidationError as error:
            self.add_error(CROSS_FIELD_ERRORS.get(error.code or ""), error.messages)
        return cleaned

    def fields_for_service(self) -> SchemaFields:
        assert self.spec is not None, "call is_valid() first"
        data = self.cleaned_data
        return SchemaFields(
            name=data["name"],
            kind=data["kind"],
            title=data["title"].strip(),
            instruction=data["instruction"],
            enable_comment=data["enable_comment"],
            target_span_type=data["target_span_type"],
            spec=self.spec,
            required=not data.get("optional"),
        )

    def preview_schema(self) -> LabelingSchema | None:
        """An unsaved schema built from what is posted, for the live preview; None while the
        settings are invalid."""
        if self.spec is None:
            return None
        data = self.cleaned_data
        return LabelingSchema(
            pk=self.instance.pk if self.instance else 0,
            experiment=self.experiment,
            name=data.get("name") or "untitled",
            kind=data.get("kind") or AssessmentKind.FEEDBACK,
            title=(data.get("title") or "").strip() or "Your question",
            instruction=data.get("instruction") or "",
            enable_comment=bool(data.get("enable_comment")),
            required=not data.get("optional"),
            target_span_type=data.get("target_span_type") or "",
            input_type=self.spec.input_type,
            input_config=self.spec.to_config(),
        )

    def settings_errors(self) -> list[str]:
        """Errors that keep the preview from showing (the settings and cross-field ones)."""
        if not self.is_bound:
            return []
        names = (None, "input_type", *ALL_SETTINGS_FIELDS)
        return [message for name in names for message in self.errors.get(name or "__all__", [])]

    def settings_groups(self) -> list[dict[str, Any]]:
        """The settings fields in groups, each shown for the input kinds it serves (options
        serve both categorical kinds, so they are one field)."""
        return [
            {
                "input_types": " ".join(input_types),
                "label": label,
                "fields": [self[name] for name in names],
            }
            for label, names, input_types in SETTINGS_GROUPS
        ]


def schema_initial(schema: LabelingSchema) -> dict[str, Any]:
    """Form values that show a saved schema again."""
    initial: dict[str, Any] = {
        "name": schema.name,
        "kind": schema.kind,
        "title": schema.title,
        "instruction": schema.instruction,
        "enable_comment": schema.enable_comment,
        "optional": not schema.required,
        "target_span_type": schema.target_span_type,
        "input_type": schema.input_type,
    }
    config = schema.input_config or {}
    for name, value in config.items():
        if name == "options":
            initial["options"] = "\n".join(value or [])
        elif value is not None:
            initial[name] = value if isinstance(value, (bool, str)) else f"{value:g}"
    return initial


# --- sessions ------------------------------------------------------------------------------------


class OrderedSchemasWidget(forms.Widget):
    """A checkbox and a position number per schema; works without JavaScript."""

    template_name = "labeling/console/_schema_picker.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.schemas: list[LabelingSchema] = []

    def value_from_datadict(self, data: Any, files: Any, name: str) -> dict[str, Any]:
        return {
            "included": [
                str(schema.pk) for schema in self.schemas if data.get(f"{name}-{schema.pk}")
            ],
            "positions": {
                str(schema.pk): str(data.get(f"{name}-{schema.pk}-position", "")).strip()
                for schema in self.schemas
            },
        }

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return False

    def format_value(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        ids = [str(getattr(v, "pk", v)) for v in (value or [])]
        return {
            "included": ids,
            "positions": {pk: str(position) for position, pk in enumerate(ids, start=1)},
        }

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        value = self.format_value(value)
        included = set(value["included"])
        positions = value["positions"]

        def sort_key(schema: LabelingSchema) -> tuple:
            raw = positions.get(str(schema.pk), "")
            number = int(raw) if raw.isdigit() else 10_000
            return (str(schema.pk) not in included, number, schema.name)

        context["rows"] = [
            {
                "schema": schema,
                "included": str(schema.pk) in included,
                "position": positions.get(str(schema.pk), ""),
                "name": f"{name}-{schema.pk}",
            }
            for schema in sorted(self.schemas, key=sort_key)
        ]
        return context


class OrderedSchemasField(forms.Field):
    """The questions of a session, in order: cleans to a list of schemas."""

    widget = OrderedSchemasWidget

    def __init__(self, *, schemas: list[LabelingSchema] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schemas = schemas or []

    @property
    def schemas(self) -> list[LabelingSchema]:
        return self._schemas

    @schemas.setter
    def schemas(self, value: list[LabelingSchema]) -> None:
        self._schemas = list(value)
        self.widget.schemas = self._schemas

    def to_python(self, value: Any) -> list[LabelingSchema]:
        if not value:
            return []
        by_pk = {str(schema.pk): schema for schema in self.schemas}
        chosen = []
        for index, pk in enumerate(value.get("included", [])):
            schema = by_pk.get(str(pk))
            if schema is None:
                raise ValidationError("Choose questions from this experiment.", code="invalid")
            raw = value.get("positions", {}).get(str(pk), "")
            if raw == "":
                position = 10_000 + index  # no position: after the numbered ones
            elif raw.isdigit() and 1 <= int(raw) <= 999:
                position = int(raw)
            else:
                raise ValidationError(
                    f"The position of “{schema.title}” must be a whole number from 1 to 999.",
                    code="position",
                )
            chosen.append((position, index, schema))
        return [schema for _, _, schema in sorted(chosen, key=lambda row: row[:2])]


def labelers_queryset() -> QuerySet[User]:
    return User.objects.filter(groups__name=LABELERS_GROUP).order_by("username")


class LabelerChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        full_name = obj.get_full_name()
        label = f"{obj.username} ({full_name})" if full_name else obj.username
        return label if obj.is_active else f"{label}, deactivated"


class SessionForm(ConsoleFormMixin, forms.ModelForm):
    schemas = OrderedSchemasField(
        label="Questions",
        required=False,
        help_text="Tick the schemas to ask and number them in the order labelers see them.",
    )
    labelers = LabelerChoices(
        label="Labelers",
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Members of the “labelers” group. Each sees the session while it is active.",
    )
    reviewers = LabelerChoices(
        label="Reviewers",
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="People who may see this session's disagreements, settle them and export the "
        "results, besides curators. A labeler made reviewer sees the other labelers' answers.",
    )

    class Meta:
        model = LabelingSession
        fields = [
            "name",
            "instructions",
            "labels_per_item",
            "reservation_minutes",
            "blind",
            "suggestions",
            "status",
        ]
        labels = {
            "labels_per_item": "Labels per item",
            "reservation_minutes": "Reservation (minutes)",
            "blind": "Blind mode",
            "suggestions": "Judges' suggestions to confirm",
        }
        help_texts = {
            "instructions": "Shown to labelers at the top of every item. Markdown.",
            "labels_per_item": "How many different people label each item (1 to 10).",
            "reservation_minutes": "How long an opened item stays reserved for its labeler "
            "before someone else may take it.",
            "blind": "Hide other people's and judges' labels from labelers while they work.",
            "suggestions": "Pre-fill each question with the LLM-judge or code feedback of the "
            "same name, marked as a suggestion with its rationale, for labelers to confirm or "
            "change. Never in blind mode.",
            "status": "Labelers see the session only while it is active.",
        }
        widgets = {
            "instructions": forms.Textarea(attrs={"rows": 4}),
            "status": forms.RadioSelect,
            "labels_per_item": forms.NumberInput(attrs={"min": 1, "max": 10}),
            "reservation_minutes": forms.NumberInput(attrs={"min": 1, "max": 1440}),
        }
        error_messages = {
            "labels_per_item": {
                "min_value": "Labels per item must be between 1 and 10.",
                "max_value": "Labels per item must be between 1 and 10.",
            },
            "reservation_minutes": {
                "min_value": "The reservation must last at least a minute.",
                "max_value": "The reservation may last at most 1,440 minutes (a day).",
            },
        }

    def __init__(self, *args: Any, experiment: Experiment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.experiment = experiment
        self.fields["name"].widget.attrs["autocomplete"] = "off"
        current_schemas: list[int] = []
        current_labelers: list[int] = []
        current_reviewers: list[int] = []
        if self.instance.pk:
            rows = self.instance.sessionschema_set.order_by("position", "id")
            current_schemas = list(rows.values_list("schema_id", flat=True))
            current_labelers = list(self.instance.labelers.values_list("pk", flat=True))
            self.initial.setdefault("schemas", current_schemas)
            self.initial.setdefault("labelers", current_labelers)
            current_reviewers = list(self.instance.reviewers.values_list("pk", flat=True))
            self.initial.setdefault("reviewers", current_reviewers)
        # Archived schemas are offered only to sessions that already ask them.
        schemas = LabelingSchema.objects.filter(experiment=experiment).order_by("name")
        schemas = [s for s in schemas if not s.archived or s.pk in current_schemas]
        self.fields["schemas"].schemas = schemas
        # Deactivated labelers are offered only to sessions they are already in.
        self.fields["labelers"].queryset = (
            (
                labelers_queryset().filter(is_active=True)
                | User.objects.filter(pk__in=current_labelers)
            )
            .distinct()
            .order_by("username")
        )
        # Curators lead every session already; anyone else active may be made a reviewer.
        self.fields["reviewers"].queryset = User.objects.filter(
            Q(is_active=True, is_staff=False) | Q(pk__in=current_reviewers)
        ).order_by("username")

    @property
    def has_schemas(self) -> bool:
        return bool(self.fields["schemas"].schemas)

    def clean_name(self) -> str:
        try:
            return validate_name(self.cleaned_data["name"])
        except ValidationError as error:
            raise ValidationError(error.messages[0], code="name") from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("status") == SessionStatus.ACTIVE:
            if "schemas" in cleaned and not cleaned["schemas"]:
                self.add_error("schemas", "An active session needs at least one question.")
            labelers = cleaned.get("labelers")
            if labelers is not None and not labelers:
                self.add_error("labelers", "An active session needs at least one labeler.")
            overlap = cleaned.get("labels_per_item")
            if labelers and overlap and overlap > len(labelers):
                self.add_error(
                    "labels_per_item",
                    f"Each item needs {overlap} different labelers, but only {len(labelers)} "
                    f"{'is' if len(labelers) == 1 else 'are'} assigned: items could never be "
                    "complete. Assign more labelers or lower this number.",
                )
        return cleaned

    def fields_for_service(self) -> SessionFields:
        data = self.cleaned_data
        return SessionFields(
            name=data["name"],
            instructions=data["instructions"],
            labels_per_item=data["labels_per_item"],
            reservation_minutes=data["reservation_minutes"],
            blind=data["blind"],
            suggestions=data["suggestions"],
            status=data["status"],
            schemas=data["schemas"],
            labelers=list(data["labelers"]),
            reviewers=list(data["reviewers"]),
        )


class ExperimentChoiceForm(ConsoleFormMixin, forms.Form):
    experiment = forms.ModelChoiceField(
        label="Experiment", queryset=Experiment.objects.none(), empty_label=None
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["experiment"].queryset = Experiment.objects.active().order_by("name")


# --- adding traces -------------------------------------------------------------------------------

NEW_SESSION = "new"


class AddTracesForm(ConsoleFormMixin, forms.Form):
    """What to add (the selection, everything matching, or a random sample) and where to."""

    ACTIONS = (("selected", "Selected traces"), ("all", "All matching"), ("sample", "Sample"))

    action = forms.ChoiceField(choices=ACTIONS)
    size = forms.IntegerField(
        label="Sample size",
        required=False,
        min_value=1,
        max_value=MAX_SAMPLE_SIZE,
        initial=20,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_SAMPLE_SIZE}),
        error_messages={
            "min_value": f"The sample size must be between 1 and {MAX_SAMPLE_SIZE:,}.",
            "max_value": f"The sample size must be between 1 and {MAX_SAMPLE_SIZE:,}.",
        },
    )
    session = forms.ChoiceField(label="Session", required=False)
    new_session_name = forms.CharField(
        label="New session name",
        required=False,
        max_length=NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(
        self,
        *args: Any,
        sessions: list[LabelingSession] | None = None,
        fixed_session: LabelingSession | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fixed_session = fixed_session
        self.sessions = sessions or []
        self.fields["session"].choices = [
            ("", "Choose a session…"),
            *((str(s.pk), f"{s.name} ({s.get_status_display().lower()})") for s in self.sessions),
            (NEW_SESSION, "A new session…"),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if (
            cleaned.get("action") == "sample"
            and not cleaned.get("size")
            and "size" not in (self.errors)
        ):
            self.add_error("size", "Give the sample size.")
        if self.fixed_session is not None:
            cleaned["target"] = self.fixed_session
            return cleaned
        choice = cleaned.get("session")
        if choice == NEW_SESSION:
            name = (cleaned.get("new_session_name") or "").strip()
            if not name:
                self.add_error("new_session_name", "Name the new session.")
            cleaned["target"] = None
        elif choice:
            target = next((s for s in self.sessions if str(s.pk) == choice), None)
            if target is None:
                self.add_error("session", "Choose one of this experiment's sessions.")
            cleaned["target"] = target
        else:
            self.add_error("session", "Choose a session, or a new one.")
        return cleaned


# --- people --------------------------------------------------------------------------------------


class LabelerCreateForm(ConsoleFormMixin, UserCreationForm):
    """A new labeler: username, name, email and a password checked by the password validators."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "first_name", "last_name", "email")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs["autocomplete"] = "off"
        self.fields["password1"].widget.attrs["autocomplete"] = "new-password"
        self.fields["password2"].widget.attrs["autocomplete"] = "new-password"

    def clean_username(self) -> str:
        return validate_username(super().clean_username())


def describe_settings(input_type: str, config: dict[str, Any] | None) -> str:
    """A short description of a schema's input settings, for lists and version history."""
    config = config or {}

    def number(value: Any) -> str:
        return f"{value:g}" if isinstance(value, (int, float)) else str(value)

    if input_type == InputType.PASS_FAIL:
        return f"{config.get('positive_label', 'Pass')} / {config.get('negative_label', 'Fail')}"
    if input_type in (InputType.CATEGORICAL, InputType.CATEGORICAL_LIST):
        options = config.get("options") or []
        text = ", ".join(options[:4]) + (f" +{len(options) - 4}" if len(options) > 4 else "")
        several = input_type == InputType.CATEGORICAL_LIST or config.get("multi")
        return text + (" (several allowed)" if several else "")
    if input_type == InputType.NUMERIC:
        low, high, step = config.get("min_value"), config.get("max_value"), config.get("step")
        if low is not None and high is not None:
            text = f"{number(low)} to {number(high)}"
        elif low is not None:
            text = f"at least {number(low)}"
        elif high is not None:
            text = f"at most {number(high)}"
        else:
            text = "any number"
        return text + (f", step {number(step)}" if step else "")
    if input_type == InputType.TEXT:
        limit = config.get("max_length")
        return f"up to {limit:,} characters" if limit else "no length limit"
    if input_type == InputType.TEXT_LIST:
        count, each = config.get("max_count"), config.get("max_length_each")
        text = f"up to {count} entries" if count else "any number of entries"
        return text + (f", {each:,} characters each" if each else "")
    return ""


class LabelerPasswordForm(ConsoleFormMixin, SetPasswordForm):
    """A new password for a labeler, checked by the password validators."""
