"""The console's pages, by group: signing in and out (``sign_in``), the feature list and the
review queues (``lists``), the feature page and the actions on it (``feature``). Each
declares its routes on the console's blueprint (``console.blueprint``); each POST answers
with a redirect and a flash message (post/redirect/get)."""
