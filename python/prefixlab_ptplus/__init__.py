"""prefixlab_ptplus: run PrefixLab's Prefix-Tuning+ exports with Hugging Face transformers.

    from prefixlab_ptplus import load_ptplus
    model = load_ptplus(AutoModelForCausalLM.from_pretrained(BASE), EXPORT_DIR)
"""

from .loader import PEFT_TYPE, PtPlusConfig, detach_ptplus, load_ptplus, read_ptplus

__all__ = ["PEFT_TYPE", "PtPlusConfig", "detach_ptplus", "load_ptplus", "read_ptplus"]
__version__ = "0.1.0"
