"""Build a tiny Marian-shaped CTranslate2 model with random weights, for tests.

No OPUS-MT weights can be downloaded on the development and CI machines, so the tests
build a model with the same layout as what
`ct2-transformers-converter --model Helsinki-NLP/opus-mt-<src>-<tgt> --copy_files source.spm target.spm`
writes: post-norm Transformer with swish activation, sinusoidal positions, a shared
vocabulary ("</s>" = 0, "<unk>" = 1, as in Marian), the decoder starting from a zero
embedding, and source.spm / target.spm. The weights are random, so the output checks the
mechanics, not translation quality. Building takes well under a second.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import sentencepiece as spm
from ctranslate2.specs import common_spec, transformer_spec

D_MODEL = 32
FFN_DIM = 64
NUM_HEADS = 2
NUM_LAYERS = 1
SEED = 1234

_SENTENCES = """\
Good morning, everyone, and welcome to the meeting.
Can you hear me clearly now?
Let us start with the quarterly numbers.
The sales team closed twelve new contracts this month.
We need to hire two more engineers before summer.
The new office opens on the first of June.
Please send me the report by Friday afternoon.
I think the budget for marketing is too small.
Our customers in Spain asked for a Spanish version.
The translation service works in real time.
She will present the roadmap after the break.
Thank you for joining the call today.
Could you repeat the last question, please?
The weather in Madrid is sunny and warm.
We are going to travel to Barcelona next week.
The train leaves at half past nine in the morning.
He forgot his laptop at home again.
The children are playing in the garden.
My favourite food is rice with vegetables.
The museum is closed on Mondays.
How much does this ticket cost?
I would like a cup of coffee with milk.
The meeting is over, see you tomorrow.
The server restarted during the night without errors.
Latency must stay below one second for every speaker.
Every participant hears the translation in their own language.
The microphone of the second speaker is too quiet.
We will review the design document on Thursday.
Please mute your microphone when you are not speaking.
The project started three years ago in a small room.
Numbers, dates and names must be translated carefully.
The river flows through the old city to the sea.
Open the window, it is very hot in here.
The library has thousands of books in many languages.
We cooked dinner together and watched a film.
The doctor said that I should sleep more.
The bus was late because of the heavy rain.
Write the answer on a piece of paper.
This is the most important decision of the year.
They walked along the beach until the sun went down.
"""


def build_tiny_marian(directory: Path) -> Path:
    """Write a tiny Marian-shaped CTranslate2 model into `directory` and return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    spm_path = _train_sentencepiece(directory)
    processor = spm.SentencePieceProcessor(model_file=str(spm_path))
    vocabulary = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]

    spec = _random_marian_spec(len(vocabulary), np.random.default_rng(SEED))
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    # What the transformers converter writes for MarianMT: the tokenizer adds </s> itself.
    spec.config.eos_token = "</s>"
    spec.config.unk_token = "<unk>"
    spec.config.decoder_start_token = "</s>"
    spec.register_file(str(spm_path), "source.spm")
    spec.register_file(str(spm_path), "target.spm")
    spec.validate()
    spec.optimize(quantization="int8")

    model_dir = directory / "model"
    model_dir.mkdir(exist_ok=True)
    spec.save(str(model_dir))
    return model_dir


def _train_sentencepiece(directory: Path) -> Path:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_SENTENCES.splitlines()),
        model_writer=model,
        model_type="unigram",
        vocab_size=200,
        hard_vocab_limit=False,
        character_coverage=1.0,
        # Marian's ids: </s> first, <unk> second, no <s> or <pad>.
        eos_id=0,
        unk_id=1,
        bos_id=-1,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    path = directory / "tiny.spm"
    path.write_bytes(model.getvalue())
    return path


def _random_marian_spec(vocab_size: int, rng: np.random.Generator) -> transformer_spec.TransformerSpec:
    spec = transformer_spec.TransformerSpec.from_config(
        (NUM_LAYERS, NUM_LAYERS),
        NUM_HEADS,
        pre_norm=False,
        activation=common_spec.Activation.SWISH,
        layernorm_embedding=False,
    )
    # One embedding matrix shared by encoder, decoder and output projection (tied, as in OPUS-MT).
    embeddings = _normal(rng, vocab_size, D_MODEL)
    positions = _sinusoidal_positions(D_MODEL)

    encoder = spec.encoder
    encoder.embeddings[0].weight = embeddings
    encoder.position_encodings.encodings = positions
    for layer in encoder.layer:
        _fill_attention(layer.self_attention, rng, fused_outputs=3)
        _fill_ffn(layer.ffn, rng)

    decoder = spec.decoder
    decoder.start_from_zero_embedding = True
    decoder.embeddings.weight = embeddings
    decoder.position_encodings.encodings = positions
    for layer in decoder.layer:
        _fill_attention(layer.self_attention, rng, fused_outputs=3)
        _fill_attention(layer.attention, rng, fused_outputs=1, memory_outputs=2)
        _fill_ffn(layer.ffn, rng)
    decoder.projection.weight = embeddings
    return spec


def _fill_attention(spec, rng: np.random.Generator, fused_outputs: int, memory_outputs: int = 0) -> None:
    _fill_linear(spec.linear[0], rng, fused_outputs * D_MODEL, D_MODEL)
    if memory_outputs:
        _fill_linear(spec.linear[1], rng, memory_outputs * D_MODEL, D_MODEL)
    _fill_linear(spec.linear[-1], rng, D_MODEL, D_MODEL)
    _fill_layer_norm(spec.layer_norm)


def _fill_ffn(spec, rng: np.random.Generator) -> None:
    _fill_linear(spec.linear_0, rng, FFN_DIM, D_MODEL)
    _fill_linear(spec.linear_1, rng, D_MODEL, FFN_DIM)
    _fill_layer_norm(spec.layer_norm)


def _fill_linear(spec, rng: np.random.Generator, outputs: int, inputs: int) -> None:
    spec.weight = _normal(rng, outputs, inputs, scale=inputs**-0.5)
    spec.bias = np.zeros(outputs, dtype=np.float32)


def _fill_layer_norm(spec) -> None:
    spec.gamma = np.ones(D_MODEL, dtype=np.float32)
    spec.beta = np.zeros(D_MODEL, dtype=np.float32)


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _sinusoidal_positions(dim: int, num_positions: int = 512) -> np.ndarray:
    # Marian's layout: sines in the first half of the dimensions, cosines in the second.
    positions = np.arange(num_positions)[:, None]
    inverse_timescales = np.power(10000.0, -2 * np.arange(dim // 2) / dim)[None, :]
    angles = positions * inverse_timescales
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)

