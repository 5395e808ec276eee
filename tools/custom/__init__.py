"""Tools that admins register without a deploy: HTTP endpoints and OpenAPI operations.

An admin writes a YAML manifest (:mod:`tools.custom.manifest`); the runner
(:mod:`tools.custom.runner`) turns it into an implementation the registry can
call, and every request goes out through the guarded caller in
:mod:`tools.custom.http`, because the URL, the headers and the arguments are
all chosen by someone other than the people who run the network.
"""
