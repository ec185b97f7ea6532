"""The console: the Django admin made into the ConnectyCube dashboard.

The screens of each module hang under an application (`/admin/accounts/application/<id>/...`),
wired by `console.admin.ApplicationAdmin.get_urls`; every view goes through
`admin.site.admin_view`, so only active staff users reach one.
"""
