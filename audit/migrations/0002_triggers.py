"""The triggers that write the audit trail, in the transaction of each change.

Row-level AFTER triggers: the changes they watch are rare (a class, its fields or
permissions, an application's keys or settings, a webhook), except records, whose trigger
has a WHEN clause on the nine permission columns, so an update that leaves them alone
costs one comparison and no function call. Secrets are never copied: keys show as their
first characters, a webhook's secret as "(changed)".
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION audit_write(app bigint, kind text, target text, action text,
                            before jsonb, after jsonb, fallback text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_auditentry (at, application_id, actor, kind, target, action, before, after)
    VALUES (now(), app,
            left(coalesce(nullif(current_setting('cubebase.actor', true), ''), fallback,
                          'unknown (' || session_user || ')'), 200),
            kind, left(target, 300), action, before, after)
$$;

CREATE FUNCTION audit_action(op text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE op WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END
$$;

CREATE FUNCTION audit_application() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_settings jsonb;
    new_settings jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_write(NEW.id, 'application', NEW.name, 'create', NULL,
                            jsonb_build_object('name', NEW.name), NULL);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM audit_write(OLD.id, 'application', OLD.name, 'delete',
                            jsonb_build_object('name', OLD.name), NULL, NULL);
    ELSE
        IF NEW.auth_key IS DISTINCT FROM OLD.auth_key
           OR NEW.auth_secret IS DISTINCT FROM OLD.auth_secret THEN
            PERFORM audit_write(NEW.id, 'application keys', NEW.name, 'update',
                jsonb_build_object('auth_key', left(OLD.auth_key, 6) || '…',
                                   'auth_secret', left(OLD.auth_secret, 4) || '…'),
                jsonb_build_object('auth_key', left(NEW.auth_key, 6) || '…',
                                   'auth_secret', left(NEW.auth_secret, 4) || '…'), NULL);
        END IF;
        old_settings := to_jsonb(OLD) - 'auth_key' - 'auth_secret' - 'created_at';
        new_settings := to_jsonb(NEW) - 'auth_key' - 'auth_secret' - 'created_at';
        IF old_settings IS DISTINCT FROM new_settings THEN
            PERFORM audit_write(NEW.id, 'application', NEW.name, 'update',
                                old_settings, new_settings, NULL);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER audit_application AFTER INSERT OR UPDATE OR DELETE ON accounts_application
    FOR EACH ROW EXECUTE FUNCTION audit_application();

CREATE FUNCTION audit_objectclass() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_write(NEW.application_id, 'class', NEW.name, 'create', NULL,
            jsonb_build_object('name', NEW.name, 'permissions', NEW.permissions), NULL);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM audit_write(OLD.application_id, 'class', OLD.name, 'delete',
            jsonb_build_object('name', OLD.name, 'permissions', OLD.permissions), NULL, NULL);
    ELSE
        IF NEW.name IS DISTINCT FROM OLD.name THEN
            PERFORM audit_write(NEW.application_id, 'class', NEW.name, 'update',
                jsonb_build_object('name', OLD.name), jsonb_build_object('name', NEW.name), NULL);
        END IF;
        IF NEW.permissions IS DISTINCT FROM OLD.permissions THEN
            PERFORM audit_write(NEW.application_id, 'class permissions', NEW.name, 'update',
                                OLD.permissions, NEW.permissions, NULL);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER audit_objectclass AFTER INSERT OR UPDATE OR DELETE ON classes_objectclass
    FOR EACH ROW EXECUTE FUNCTION audit_objectclass();

CREATE FUNCTION audit_field() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    class_id bigint;
    app_id bigint;
    class_name text;
    before jsonb;
    after jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        class_id := OLD.object_class_id;
        before := jsonb_build_object('name', OLD.name, 'type', OLD.type, 'indexed', OLD.indexed);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        class_id := NEW.object_class_id;
        after := jsonb_build_object('name', NEW.name, 'type', NEW.type, 'indexed', NEW.indexed);
    END IF;
    IF before IS NOT DISTINCT FROM after THEN  -- only the position moved
        RETURN NULL;
    END IF;
    SELECT application_id, name INTO app_id, class_name
    FROM classes_objectclass WHERE id = class_id;
    PERFORM audit_write(app_id, 'class schema',
        coalesce(class_name, '#' || class_id) || '.' || (coalesce(after, before) ->> 'name'),
        audit_action(TG_OP), before, after, NULL);
    RETURN NULL;
END $$;

CREATE TRIGGER audit_field AFTER INSERT OR UPDATE OR DELETE ON classes_field
    FOR EACH ROW EXECUTE FUNCTION audit_field();

CREATE FUNCTION audit_record_permissions_json(r records_record) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'read', jsonb_build_object('access', r.read_access, 'ids', to_jsonb(r.read_ids),
                                   'groups', to_jsonb(r.read_groups)),
        'update', jsonb_build_object('access', r.update_access, 'ids', to_jsonb(r.update_ids),
                                     'groups', to_jsonb(r.update_groups)),
        'delete', jsonb_build_object('access', r.delete_access, 'ids', to_jsonb(r.delete_ids),
                                     'groups', to_jsonb(r.delete_groups)))
$$;

CREATE FUNCTION audit_record_permissions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Through the API only a record's owner changes its permissions (administrators act
    -- in the console, which names its operator), so the owner is the fallback actor.
    PERFORM audit_write(NEW.application_id, 'record permissions',
        coalesce((SELECT name FROM classes_objectclass WHERE id = NEW.object_class_id), '?')
            || ' ' || NEW.id,
        'update', audit_record_permissions_json(OLD), audit_record_permissions_json(NEW),
        'api:user ' || NEW.user_id);
    RETURN NULL;
END $$;

CREATE TRIGGER audit_record_permissions AFTER UPDATE ON records_record
    FOR EACH ROW WHEN (
        OLD.read_access IS DISTINCT FROM NEW.read_access
        OR OLD.read_ids IS DISTINCT FROM NEW.read_ids
        OR OLD.read_groups IS DISTINCT FROM NEW.read_groups
        OR OLD.update_access IS DISTINCT FROM NEW.update_access
        OR OLD.update_ids IS DISTINCT FROM NEW.update_ids
        OR OLD.update_groups IS DISTINCT FROM NEW.update_groups
        OR OLD.delete_access IS DISTINCT FROM NEW.delete_access
        OR OLD.delete_ids IS DISTINCT FROM NEW.delete_ids
        OR OLD.delete_groups IS DISTINCT FROM NEW.delete_groups)
    EXECUTE FUNCTION audit_record_permissions();

CREATE FUNCTION audit_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before jsonb := CASE WHEN TG_OP <> 'INSERT'
                         THEN to_jsonb(OLD) - 'secret' - 'created_at' END;
    after jsonb := CASE WHEN TG_OP <> 'DELETE'
                        THEN to_jsonb(NEW) - 'secret' - 'created_at' END;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.secret IS DISTINCT FROM OLD.secret THEN
        after := after || jsonb_build_object('secret', '(changed)');
    END IF;
    IF TG_OP = 'UPDATE' AND before IS NOT DISTINCT FROM after THEN
        RETURN NULL;
    END IF;
    PERFORM audit_write(coalesce(NEW.application_id, OLD.application_id), 'webhook',
        coalesce(NEW.url, OLD.url), audit_action(TG_OP), before, after, NULL);
    RETURN NULL;
END $$;

CREATE TRIGGER audit_webhook AFTER INSERT OR UPDATE OR DELETE ON events_webhook
    FOR EACH ROW EXECUTE FUNCTION audit_webhook();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_webhook ON events_webhook;
DROP TRIGGER IF EXISTS audit_record_permissions ON records_record;
DROP TRIGGER IF EXISTS audit_field ON classes_field;
DROP TRIGGER IF EXISTS audit_objectclass ON classes_objectclass;
DROP TRIGGER IF EXISTS audit_application ON accounts_application;
DROP FUNCTION IF EXISTS audit_webhook();
DROP FUNCTION IF EXISTS audit_record_permissions();
DROP FUNCTION IF EXISTS audit_record_permissions_json(records_record);
DROP FUNCTION IF EXISTS audit_field();
DROP FUNCTION IF EXISTS audit_objectclass();
DROP FUNCTION IF EXISTS audit_application();
DROP FUNCTION IF EXISTS audit_action(text);
DROP FUNCTION IF EXISTS audit_write(bigint, text, text, text, jsonb, jsonb, text);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("accounts", "0003_user_filter_indexes"),
        ("classes", "0002_schema_version"),
        ("records", "0003_pad_date_years"),
        ("events", "0002_journal_triggers"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
