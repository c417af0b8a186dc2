"""The built-in Slack stand-in: a fake Web API on loopback plus a request signer.

``relbot console`` and the test suite both use it, so what the console shows is what the
tests assert.
"""
