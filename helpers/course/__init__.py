"""Course tooling: profiles (every notebook's parameters and defaults), NotebookRun (settings, figures and the
result file of a notebook), the papermill runner, the playbook generator, the training benchmark and the command
line (`python -m helpers`). May import from every other room."""
