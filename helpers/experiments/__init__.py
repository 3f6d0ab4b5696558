"""One module per notebook (nb01_data_size ... nb06_prompt_or_finetune) plus what they share: experiment arms,
verdicts, the forgetting check. Imports from core and data."""
