def base(app) -> str:
    return f"/admin/accounts/application/{app.pk}"
