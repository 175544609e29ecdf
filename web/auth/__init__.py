"""Identity and access: who a request is, sessions, API keys, users, audit and sign-in.

Import the submodules you need (`web.auth.principal` on the hot path stays light).
"""
