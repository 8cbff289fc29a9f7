"""Dialogue design written as data: what each intent does inside each form
(``interruptions``) and how a question is asked (``asking``)."""
