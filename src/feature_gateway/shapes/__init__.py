"""The shapes both front doors read: the marshmallow fields and request schemas built from
the field and lifecycle tables, the list filters, and each trigger's wording and example.

The API parses and documents its requests with them; the console validates its forms with
the same schemas, so what a form may carry is what the API accepts. Neither door's
internals live here: nothing in this package imports Flask.
"""
