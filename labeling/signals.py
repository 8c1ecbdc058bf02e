"""Keep labeling answers on the current label when the label is edited or deleted elsewhere.

An answer (`Answer`) or a final answer (`Adjudication`) points at one assessment. Labels can be
changed outside the review app: in the trace explorer, or through the MLflow API. Editing makes
an override (a new assessment; the old one stays in the history, not valid), so the answer moves
to the override; deleting an override brings back the label it replaced, so the answer moves
back to that one. Results, agreement figures and exports then read the label as it is now.
(Deleting a label that replaced nothing deletes the answer with it.)
"""

from __future__ import annotations

from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from traces.models import Assessment


def _move(from_pk: int, to_pk: int) -> None:
    from labeling.models import Adjudication, Answer

    Answer.objects.filter(assessment_id=from_pk).update(assessment_id=to_pk)
    Adjudication.objects.filter(assessment_id=from_pk).update(assessment_id=to_pk)


@receiver(post_save, sender=Assessment, dispatch_uid="labeling-follow-overrides")
def follow_overrides(sender, instance: Assessment, created: bool, raw: bool = False, **kwargs):
    if created and not raw and instance.overrides_id is not None:
        _move(instance.overrides_id, instance.pk)


@receiver(pre_delete, sender=Assessment, dispatch_uid="labeling-keep-on-delete")
def back_to_the_replaced_label(sender, instance: Assessment, **kwargs):
    if instance.overrides_id is not None:
        _move(instance.pk, instance.overrides_id)
