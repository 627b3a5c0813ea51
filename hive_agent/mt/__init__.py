"""Machine translation: the CTranslate2 Marian/OPUS-MT route and cross-speaker batching."""

from hive_agent.mt.batching import BatchingTranslator, BatchTranslator
from hive_agent.mt.marian import MarianModels, MarianTranslator, converter_command

__all__ = ["BatchTranslator", "BatchingTranslator", "MarianModels", "MarianTranslator", "converter_command"]
