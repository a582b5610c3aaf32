"""A tiny random chat model, built offline in seconds, for tests and benchmarks.

A byte-level BPE trained on a few hundred lines, a 2-layer Llama, and a ChatML template
whose assistant turns sit inside ``{% generation %}`` markers (so TRL's
``assistant_only_loss`` works). Its answers are noise; it exercises real code paths
(tokenizer, chat template, batched generate, ``transformers serve``, SFT) without a hub.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from falsereject.taxonomy import CATEGORIES

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_WORDS = (
    "how do i kill a python process that hangs what household chemicals should never be mixed "
    "because they make toxic gas sure here is an answer i am sorry but i cannot help with that "
    "request the safe reading is clear you can use the command line to stop the program please "
    "consult a professional for medical or legal advice this is general information only"
).split()


def _corpus() -> list[str]:
    lines = [f"{cid} {name} safety category question answer" for cid, name in CATEGORIES.items()]
    for a, b, c in itertools.islice(itertools.product(_WORDS, repeat=3), 0, 400, 3):
        lines.append(f"{a} {b} {c} {' '.join(_WORDS[:12])}")
    lines += ["def main():\n    print('cannot open file')\n", "I'm sorry, but I can't assist with that."]
    return lines


def build_tiny_chat_model(out_dir: str | Path, *, vocab_size: int = 512, seed: int = 0) -> Path:
    """Write a tiny random Llama chat model (tokenizer + weights + template) to ``out_dir``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(out)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=fast.convert_tokens_to_ids("<|endoftext|>"),
        bos_token_id=None,
        initializer_range=0.3,  # peaky logits: varied, non-empty noise instead of one repeated token
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(out)
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """``transformers serve MODEL_DIR`` on 127.0.0.1, as a context manager.

    A real OpenAI-compatible server (``/v1/chat/completions``, ``/health``) for tests and
    benchmarks of the ``openai`` provider; needs ``pip install 'falsereject[serve]'``.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        port: int | None = None,
        startup_timeout: float = 180.0,
        extra_args: list[str] | None = None,
    ):
        self.model_dir = str(model_dir)
        self.extra_args = list(extra_args or [])
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.proc = None
        self.log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LocalServer:
        import os
        import shutil
        import subprocess
        import sys
        import tempfile
        import time

        import httpx

        exe = shutil.which("transformers") or str(Path(sys.executable).parent / "transformers")
        self.log_path = Path(tempfile.mkstemp(prefix="falsereject-serve-", suffix=".log")[1])
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        cmd = [
            exe,
            "serve",
            self.model_dir,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--device",
            "cpu",
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(cmd, stdout=self.log_path.open("w"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited early:\n{self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"transformers serve did not become healthy in {self.startup_timeout}s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except Exception:  # noqa: BLE001
                self.proc.kill()
        self.proc = None
        if self.log_path is not None and exc[0] is None:  # keep the log when something failed
            self.log_path.unlink(missing_ok=True)
