"""The one place where a client-sent user field becomes a stored value.

Sign-up, `PUT /users/{id}`, the console's user form and `import_users` all call
`clean_user_fields`, so a value refused by one is refused by all, with the same message.
Each cleaner takes the raw value (a JSON value or a form string) and answers the value to
store, or raises FieldError with the message a client sees.
"""

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email

LOGIN_RE = re.compile(r"^[^\s,]{3,100}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()./-]*$")
MIN_PASSWORD = 8
MAX_CUSTOM_DATA = 65_535
MAX_TAG_LENGTH = 100
# Minutes from UTC: the offsets in use run from UTC-12:00 to UTC+14:00.
TIMEZONE_RANGE = (-720, 840)
MAX_BIGINT = 2**63 - 1

# Fields that are never null: a blank one is stored as this empty value.
EMPTY = {"full_name": str, "tags": list}


class FieldError(ValueError):
    pass


def _text(value, *, max_length: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FieldError("must be a string")
    text = str(value).strip()
    if len(text) > max_length:
        raise FieldError(f"is too long (maximum is {max_length} characters)")
    return text or None


def clean_login(value):
    login = _text(value, max_length=100)
    if login is not None and not LOGIN_RE.match(login):
        raise FieldError("must be 3-100 characters with no spaces or commas")
    return login


def clean_email(value):
    email = _text(value, max_length=254)
    if email is not None:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise FieldError("is invalid") from None
    return email


def clean_full_name(value):
    return _text(value, max_length=200) or ""


def clean_password(value):
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FieldError("must be a string")
    password = str(value)
    if len(password) < MIN_PASSWORD:
        raise FieldError(f"is too short (minimum is {MIN_PASSWORD} characters)")
    return password


def clean_tags(value) -> list[str]:
    """A comma-separated string or a list; blanks dropped, duplicates kept once, in order."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = [str(v) for v in value]
    else:
        raise FieldError("must be a comma-separated string or a list")
    tags = [t.strip() for t in items if str(t).strip()]
    if any(len(t) > MAX_TAG_LENGTH for t in tags):
        raise FieldError(f"a tag is at most {MAX_TAG_LENGTH} characters")
    return list(dict.fromkeys(tags))


def clean_phone(value):
    phone = _text(value, max_length=50)
    if phone is not None and (not PHONE_RE.match(phone) or sum(c.isdigit() for c in phone) < 3):
        raise FieldError("must be digits, optionally with a leading + and spaces ( ) - .")
    return phone


_url = URLValidator(schemes=["http", "https"])


def clean_website(value):
    """`example.com` is stored as `http://example.com`, as ConnectyCube answers it."""
    website = _text(value, max_length=255)
    if website is None:
        return None
    if "://" not in website:
        website = f"http://{website}"
    try:
        _url(website)
    except DjangoValidationError:
        raise FieldError("is not a valid web address") from None
    if len(website) > 255:
        raise FieldError("is too long (maximum is 255 characters)")
    return website


def _integer(value, *, low: int, high: int):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FieldError("must be an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,20}\s*", value):
        value = int(value)
    if not isinstance(value, int):
        raise FieldError("must be an integer")
    if not low <= value <= high:
        raise FieldError(f"must be between {low} and {high}")
    return value


def clean_external_user_id(value):
    return _integer(value, low=1, high=MAX_BIGINT)


def clean_timezone(value):
    return _integer(value, low=TIMEZONE_RANGE[0], high=TIMEZONE_RANGE[1])


def clean_custom_data(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError("must be a string (encode structured data, e.g. as JSON text)")
    text = str(value)
    if len(text) > MAX_CUSTOM_DATA:
        raise FieldError(f"is too long (maximum is {MAX_CUSTOM_DATA} characters)")
    return text or None


def clean_blob_id(value, *, application_id: int):
    """The id of a blob of the same application (the user's avatar file), or null."""
    # The model the `blob` foreign key names: accounts imports nothing of blobs, which
    # builds on accounts (tests/test_layers.py).
    from accounts.models import ApiUser

    Blob = ApiUser._meta.get_field("blob").related_model
    blob_id = _integer(value, low=1, high=MAX_BIGINT)
    if blob_id is None:
        return None
    blob = Blob.objects.filter(application_id=application_id, pk=blob_id).first()
    if blob is None:
        raise FieldError("is not a file of this application")
    return blob


def _text_cleaner(max_length):
    return lambda value: _text(value, max_length=max_length)


CLEANERS = {
    "login": clean_login,
    "email": clean_email,
    "full_name": clean_full_name,
    "password": clean_password,
    "tags": clean_tags,
    "phone": clean_phone,
    "website": clean_website,
    "external_user_id": clean_external_user_id,
    "external_id": _text_cleaner(255),
    "facebook_id": _text_cleaner(64),
    "twitter_id": _text_cleaner(64),
    "avatar": _text_cleaner(255),
    "custom_data": clean_custom_data,
    "timezone": clean_timezone,
}
# Every field a client may set, in the order errors are reported.
USER_FIELDS = (*CLEANERS, "blob_id")
# Names ConnectyCube clients use for the same field (the SDK sends `tag_list`).
ALIASES = {"tag_list": "tags"}
# Fields that identify one user of an application.
UNIQUE_FIELDS = ("login", "email", "external_user_id", "external_id", "facebook_id", "twitter_id")


def clean_user_fields(data: dict, *, application_id: int) -> tuple[dict, dict]:
    """(clean values, errors) for the user fields present in `data`. A field sent as null
    or "" is cleared. Names not listed in USER_FIELDS are left to the caller."""
    clean, errors = {}, {}
    for alias, name in ALIASES.items():
        if alias in data and name not in data:
            data = {**data, name: data[alias]}
    for name in USER_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name == "password" and value is None:
            continue  # no new password
        try:
            if name == "blob_id":
                clean["blob"] = clean_blob_id(value, application_id=application_id)
            elif value is None or (value == "" and name != "password"):
                clean[name] = EMPTY[name]() if name in EMPTY else None
            else:
                clean[name] = CLEANERS[name](value)
        except FieldError as exc:
            errors.setdefault(name, []).append(str(exc))
    return clean, errors
