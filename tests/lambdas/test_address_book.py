from __future__ import annotations

from lambdas.personalize_resources.address_book import is_personalize_arn, personalize_arn, personalize_arn_prefix


def test_every_personalize_arn_starts_with_the_prefix_of_its_partition() -> None:
    arn = personalize_arn("aws-cn", "cn-north-1", "111122223333", "campaign", "shop")
    assert arn == "arn:aws-cn:personalize:cn-north-1:111122223333:campaign/shop"
    assert arn.startswith(personalize_arn_prefix("aws-cn"))
    assert personalize_arn_prefix() == "arn:aws:personalize:"
    assert is_personalize_arn(arn, "campaign")
