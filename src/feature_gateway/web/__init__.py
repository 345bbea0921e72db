"""The app-wide request plumbing both front doors stand on (the API and the console).

The composition root (``feature_gateway.app``) wires it before either door: the app's
handles (``context``), who may call without a credential (``access``), who the caller is
and which role they act in (``caller``), and the hooks every request passes: its id, the
body checks, the access log and metrics (``request_hooks``).
"""
