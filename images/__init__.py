"""Dockyard's one Django app. Its packages, by what they hold: `engine` (the only
Docker caller), `catalog` (reading images), `lifecycle` (changing them),
`builds` (what a build is made of), `jobs` (builds, pulls, pushes and imports
run by a worker, and their output), `accounts` (people, roles, tokens, the
audit log), `views` (pages) and `api`."""
