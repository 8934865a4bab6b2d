"""Everything the bot says, in one place (Russian; /start adds one English line for other languages)."""
from __future__ import annotations

START = (
    "Привет! Я рисую эмодзи-стикеры по подписи на русском.\n"
    "Напишите, что нарисовать, например «ежик в голубой шапке», и я пришлю несколько вариантов. "
    "Нажмите на кнопку с номером понравившегося: он попадёт в ваш личный набор стикеров.\n\n"
    "/set — ваш набор\n/undo — убрать последний добавленный стикер\n/new — начать новый набор"
)
START_EN = "I draw emoji stickers from Russian captions: send one, then tap the picture you like to add it to your set."

NO_MODEL = "Модель ещё не выбрана: в мастерской пока не отметили чекпоинт для выпуска. Попробуйте позже."
EMPTY = "Пустое сообщение: напишите словами, что нарисовать."
NOT_TEXT = "Я понимаю только текст: напишите подпись словами, например «кот в очках»."
EMOJI_ONLY = "Одни эмодзи и знаки я не читаю: напишите словами, что нарисовать."
BAD_PROMPT = "Эту подпись нельзя нарисовать: {reason}. Попробуйте другую."
UNKNOWN_COMMAND = "Такой команды нет. Есть /start, /set, /undo и /new."


def truncated(kept: int, total: int) -> str:
    return f"Подпись длинная ({total} символов): рисую по первым {kept}."


def queued(position: int) -> str:
    return f"в очереди: {position}-й"


def drawing(progress: float) -> str:
    return f"рисую… {int(progress * 100)} %"


def done(count: int) -> str:
    return f"готово: {count} {_variants(count)} ниже"


def failed(attempts: int) -> str:
    return (f"Не получилось нарисовать ({attempts} {_attempts(attempts)}). Запрос сохранён; "
            "пришлите подпись ещё раз чуть позже.")


def rate_limited(limit: int, wait_s: float) -> str:
    return f"Слишком часто: не больше {limit} запросов в минуту. Подождите {max(1, round(wait_s))} с."


def user_queue_full(pending: int) -> str:
    return f"У вас уже {pending} {_requests(pending)} в очереди: дождитесь ответа, потом присылайте следующую подпись."


QUEUE_FULL = "Очередь переполнена, художник не успевает. Попробуйте через несколько минут."

PICK_PROMPT = "«{prompt}»: нажмите номер, чтобы добавить стикер в набор."
NOT_YOURS = "Это варианты другого человека: пришлите свою подпись."
GONE = "Этот вариант больше недоступен."
ALREADY = "Этот стикер уже в вашем наборе."
ADDING = "Добавляю…"


def added(link: str, count: int, created: bool) -> str:
    head = "Создал ваш набор стикеров" if created else "Добавил в ваш набор"
    return f"{head}: {link} (стикеров: {count})."


def set_full(limit: int) -> str:
    return f"Набор полон: в статичном наборе Telegram не больше {limit} стикеров. Отправьте /new, чтобы начать новый."


def name_taken(name: str) -> str:
    return (f"Имя набора {name} уже занято в Telegram. Вариант сохранён: отправьте /new и нажмите на него снова — "
            "стикер попадёт в новый набор.")


TOO_LARGE = "Telegram не принял файл стикера: слишком большой. Вариант сохранён, попробуйте нажать ещё раз."
SET_GONE = "Набор не найден в Telegram (возможно, его удалили). Отправьте /new, чтобы начать новый, и нажмите снова."


def telegram_error(detail: str) -> str:
    return f"Telegram ответил ошибкой: {detail}. Вариант сохранён, попробуйте нажать ещё раз."


def your_set(link: str, count: int) -> str:
    return f"Ваш набор: {link} (стикеров: {count})."


NO_SET = "У вас пока нет набора: пришлите подпись и нажмите номер под понравившейся картинкой."
NOTHING_TO_UNDO = "Нечего убирать: в ваших наборах нет стикеров от меня."


def undone(link: str, count: int) -> str:
    return f"Убрал последний стикер. В наборе {link} осталось {count}."


def new_set(ordinal: int) -> str:
    return f"Начинаю набор №{ordinal}: следующий стикер попадёт в него."


NEW_SET_EMPTY = "Текущий набор ещё пуст: новые стикеры и так попадут в него."
SOMETHING_WRONG = "Что-то пошло не так. Запрос сохранён; попробуйте ещё раз."


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def _variants(n: int) -> str:
    return _plural(n, "вариант", "варианта", "вариантов")


def _attempts(n: int) -> str:
    return _plural(n, "попытка", "попытки", "попыток")


def _requests(n: int) -> str:
    return _plural(n, "запрос", "запроса", "запросов")
