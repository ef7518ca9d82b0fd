import this_module_does_not_exist  # noqa: F401  (an init error, on purpose)


def handler(event, context):
    return "never"
