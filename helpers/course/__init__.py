"""Course tooling: profiles (every notebook's defaults), the papermill runner, the playbook generator, the
training benchmark and the command line (`python -m helpers`). May import from every other room."""
