"""Review of alerts by people (一审 and 二审): the decision core, first review, legal review, supervision."""
