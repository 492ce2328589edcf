"""Questions answered in context: once a question is answered (a button, or words typed), its
message shows the answer ("Шаг 4. Чего вы от нас ждёте? — Замена товара") and loses its buttons,
so no button stays on a question that is settled.

A question sent with `ask` is remembered in the conversation's data (its message id is known only
once Telegram has it: `after_commit(..., then=...)` writes it in the chat's turn, before the chat's
next update). `answered` closes the open question; a message pressed that is not the open
question (an older one) just loses its buttons.
"""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardMarkup

from bot.update_scope import after_commit
from shared.i18n import Translator

QUESTION_KEY = "question"


async def ask(
    target: Message,
    state: FSMContext,
    text: str,
    reply_markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None,
) -> None:
    """Send `text` to `target`'s chat as the open question; the one open before it loses its buttons."""
    await _drop_open_buttons(target, state)

    async def remember(sent: Any) -> None:
        if isinstance(sent, Message):
            inline = isinstance(reply_markup, InlineKeyboardMarkup)
            await state.update_data({QUESTION_KEY: {"id": sent.message_id, "text": text, "buttons": inline}})

    after_commit(target.answer(text, reply_markup=reply_markup), then=remember)


async def answered(
    target: Message, state: FSMContext, t: Translator, answer: str, *, pressed: CallbackQuery | None = None
) -> None:
    """The open question is answered with `answer` (HTML, escaped): shown on its message, its
    buttons gone. `target` is any message of the chat (the question, or the customer's answer)."""
    question = (await state.get_data()).get(QUESTION_KEY)
    if (
        pressed is not None
        and isinstance(pressed.message, Message)
        and (not question or pressed.message.message_id != question.get("id"))
    ):
        # An older question's button: it is settled too, whatever the open one is.
        if pressed.message.reply_markup is not None:
            after_commit(pressed.message.edit_reply_markup(reply_markup=None))
    if not question:
        return
    await state.update_data({QUESTION_KEY: None})
    if target.bot is None:
        return
    after_commit(
        target.bot.edit_message_text(
            chat_id=target.chat.id,
            message_id=int(question["id"]),
            text=_with_answer(t, question["text"], answer),
            reply_markup=None,
        )
    )


def show_choice(query: CallbackQuery, t: Translator, answer: str) -> None:
    """A message the desk sent (a decision, the survey) answered by a button: the message shows
    the choice and loses its buttons."""
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        after_commit(query.message.edit_text(_with_answer(t, query.message.html_text, answer), reply_markup=None))


def _with_answer(t: Translator, question: str, answer: str) -> str:
    """A one-line question takes its answer at its end; a longer message (the review, a decision)
    below it, where it does not read as part of its last line."""
    key = "bot.answered_below" if "\n" in question else "bot.answered"
    return t(key, question=question, answer=answer)


async def _drop_open_buttons(target: Message, state: FSMContext) -> None:
    question = (await state.get_data()).get(QUESTION_KEY)
    if not question:
        return
    await state.update_data({QUESTION_KEY: None})
    if question.get("buttons") and target.bot is not None:
        after_commit(
            target.bot.edit_message_reply_markup(
                chat_id=target.chat.id, message_id=int(question["id"]), reply_markup=None
            )
        )
