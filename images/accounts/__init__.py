"""People: who they are, what they may do, and what they did.

- `roles`: viewer, builder and admin, and every permission check.
- `login`: the login throttle, and the password login turned off but for break-glass accounts.
- `oidc`: sign-in through the team's OpenID Connect provider; `role_claims`: its groups as roles.
- `addresses`: a request's client address, past trusted proxies.
- `audit`: the audit log (recording, filtering, exporting).
- `secrets_box`: encryption of stored secrets, with a key kept out of the database.
"""
