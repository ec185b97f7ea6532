import pytest


@pytest.fixture
def staff(client, django_user_model):
    """The Django test client logged in as a console operator."""
    django_user_model.objects.create_user(
        "boss", password="boss-password-1", is_staff=True, is_superuser=True
    )
    assert client.login(username="boss", password="boss-password-1")
    return client


def base(app) -> str:
    return f"/admin/accounts/application/{app.pk}"
