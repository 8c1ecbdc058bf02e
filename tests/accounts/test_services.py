"""accounts.services: labeler accounts."""

from django.contrib.auth.models import User

from accounts import services


def test_create_labeler_joins_the_group(db):
    user = services.create_labeler(username="dana", password="a long enough password 42")
    assert user.groups.filter(name="labelers").exists()
    assert not user.is_staff
    assert user.check_password("a long enough password 42")


def test_deactivate_labeler(labeler):
    services.set_labeler_active(user=labeler, active=False)
    assert not User.objects.get(pk=labeler.pk).is_active
