"""One-line descriptions of the 77 banking77 intents, written for notebook 06's "zero-shot with descriptions"
prompt: what a customer who sends a message of that intent wants. Written by the course from the label names
(the dataset ships none); they describe the intent, never a test message."""

from __future__ import annotations

DESCRIPTIONS = {
    "activate_my_card": "how to activate a card they have received",
    "age_limit": "the minimum age to open or use an account",
    "apple_pay_or_google_pay": "using the card with Apple Pay or Google Pay",
    "atm_support": "which cash machines (ATMs) accept the card",
    "automatic_top_up": "setting up or using automatic top-ups",
    "balance_not_updated_after_bank_transfer": "a bank transfer in that has not reached the balance yet",
    "balance_not_updated_after_cheque_or_cash_deposit": "a cheque or cash deposit missing from the balance",
    "beneficiary_not_allowed": "a payee or beneficiary that cannot be added or paid",
    "cancel_transfer": "cancelling a transfer already made",
    "card_about_to_expire": "a card that is about to expire, and its replacement",
    "card_acceptance": "where and in which shops the card is accepted",
    "card_arrival": "a new card that has not arrived yet",
    "card_delivery_estimate": "how long card delivery takes",
    "card_linking": "linking an existing card to the account or app",
    "card_not_working": "a card that does not work",
    "card_payment_fee_charged": "a fee charged on a card payment",
    "card_payment_not_recognised": "a card payment the customer does not recognise",
    "card_payment_wrong_exchange_rate": "a card payment converted at a wrong exchange rate",
    "card_swallowed": "a card kept (swallowed) by a cash machine",
    "cash_withdrawal_charge": "a fee charged on a cash withdrawal",
    "cash_withdrawal_not_recognised": "a cash withdrawal the customer did not make",
    "change_pin": "changing the card's PIN",
    "compromised_card": "a card whose details may have been stolen or misused",
    "contactless_not_working": "contactless payments that do not work",
    "country_support": "which countries the service is available in",
    "declined_card_payment": "a card payment that was declined",
    "declined_cash_withdrawal": "a cash withdrawal that was declined",
    "declined_transfer": "a transfer that was declined",
    "direct_debit_payment_not_recognised": "a direct debit the customer does not recognise",
    "disposable_card_limits": "limits of disposable virtual cards",
    "edit_personal_details": "changing name, address or other personal details",
    "exchange_charge": "fees for exchanging currencies",
    "exchange_rate": "which exchange rate is used",
    "exchange_via_app": "exchanging currencies in the app",
    "extra_charge_on_statement": "an unexpected extra charge on the statement",
    "failed_transfer": "a transfer that failed",
    "fiat_currency_support": "which currencies can be held or used",
    "get_disposable_virtual_card": "getting a disposable virtual card",
    "get_physical_card": "getting a physical card",
    "getting_spare_card": "getting an extra or spare card",
    "getting_virtual_card": "getting a virtual card",
    "lost_or_stolen_card": "a card that was lost or stolen",
    "lost_or_stolen_phone": "a phone with the app that was lost or stolen",
    "order_physical_card": "ordering a physical card",
    "passcode_forgotten": "a forgotten app passcode",
    "pending_card_payment": "a card payment still shown as pending",
    "pending_cash_withdrawal": "a cash withdrawal still shown as pending",
    "pending_top_up": "a top-up still shown as pending",
    "pending_transfer": "a transfer still shown as pending",
    "pin_blocked": "a PIN that is blocked after wrong attempts",
    "receiving_money": "how to receive money into the account",
    "Refund_not_showing_up": "a refund that has not appeared on the account",
    "request_refund": "asking for a refund of a purchase",
    "reverted_card_payment?": "a card payment that was reverted",
    "supported_cards_and_currencies": "which cards and currencies are supported",
    "terminate_account": "closing the account",
    "top_up_by_bank_transfer_charge": "a fee for topping up by bank transfer",
    "top_up_by_card_charge": "a fee for topping up by card",
    "top_up_by_cash_or_cheque": "topping up with cash or a cheque",
    "top_up_failed": "a top-up that failed",
    "top_up_limits": "how much can be topped up",
    "top_up_reverted": "a top-up that was reverted",
    "topping_up_by_card": "how to top up with a card",
    "transaction_charged_twice": "a payment charged twice",
    "transfer_fee_charged": "a fee charged on a transfer",
    "transfer_into_account": "how to transfer money into the account",
    "transfer_not_received_by_recipient": "a transfer the recipient has not received",
    "transfer_timing": "how long a transfer takes",
    "unable_to_verify_identity": "identity verification that does not work",
    "verify_my_identity": "how to verify their identity",
    "verify_source_of_funds": "proving where their money comes from",
    "verify_top_up": "verifying a top-up",
    "virtual_card_not_working": "a virtual card that does not work",
    "visa_or_mastercard": "whether the card is Visa or Mastercard",
    "why_verify_identity": "why identity verification is needed",
    "wrong_amount_of_cash_received": "a cash machine that gave the wrong amount",
    "wrong_exchange_rate_for_cash_withdrawal": "a cash withdrawal abroad at a wrong exchange rate",
}

DESCRIBED_SYSTEM_PROMPT = (
    "You classify customer messages for a bank. Answer with exactly one intent label from this list and "
    "nothing else. Each label is followed by what the customer wants:\n{lines}"
)


def described_system_prompt(labels: list[str]) -> str:
    """The label-list system prompt with one line per label: "- label: what the customer wants"."""
    missing = [label for label in labels if label not in DESCRIPTIONS]
    if missing:
        raise KeyError(f"no description for intent(s) {missing}")
    return DESCRIBED_SYSTEM_PROMPT.format(lines="\n".join(f"- {label}: {DESCRIPTIONS[label]}" for label in labels))
