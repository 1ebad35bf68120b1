"""What a build is made from: its sources, the context archive sent to the
engine, and the checks that stand between a builder's input and the engine.

- `forms`: the build and pull forms (pages and API use the same).
- `contexts`: build contexts from each source (Dockerfile, upload, server
  directory, git URL), archive safety checks, build arguments.
- `dockerfile`: a Dockerfile read as the classic builder reads it, and which
  line a BuildKit vertex's instruction comes from.
- `builders`: BuildKit or the classic builder: the default, a recipe's choice.
- `sessions`: the BuildKit session a build job attaches.
- `secrets`: build secrets, stored encrypted, chosen by id.
- `fetches`: which registries and URLs the engine may be sent to.
"""
