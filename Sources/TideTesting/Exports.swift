// Tests drive the same loopback servers `tide run --replay` and `tide test` use.
@_exported import TideReplay
