"""Fine-tuning support for ``recipes/sft.py``: dataset mixtures, training chat templates, model cards.

The training itself is TRL's ``SFTTrainer`` under ``accelerate`` (DDP, FSDP or DeepSpeed);
nothing here re-implements it. What lives here is the logic the recipe script needs and
that the tests exercise directly:

- :mod:`falsereject.training.mixture`: a seeded, exactly counted mixture of datasets
  (Hub ids or local folders) formatted into chat ``messages``;
- :mod:`falsereject.training.chat_template`: a chat template with ``{% generation %}``
  markers, so that the loss is computed on the assistant turns only;
- :mod:`falsereject.training.card`: the model card (base model, mixture, hyperparameters,
  eval results);
- :mod:`falsereject.training.recipe`: the recipe's script arguments and small helpers.
"""
