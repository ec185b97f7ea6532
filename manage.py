#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from audit.actor import command_actor

    if actor := command_actor(sys.argv):  # who the audit trail names for this command
        os.environ.setdefault("CUBEBASE_AUDIT_ACTOR", actor)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
