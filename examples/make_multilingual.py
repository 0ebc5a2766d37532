"""Writes the two non-English example corpora (CC0, like customer_service.jsonl; issue 20).

- ``customer_service_zh.jsonl``: support conversations of 红隼银行 (Kestrel Bank), in Chinese.
- ``customer_service_es_en.jsonl``: a smaller one where customers and agents speak Spanish, English, or both.

Every utterance below was written by hand for dialin; a dialogue is put together from them (its topic,
the people's names, numbers and dates drawn with a fixed seed), so the files are reproducible:

    python examples/make_multilingual.py

Gold labels are `action-objective` with the action from dialin's English verb list and the objective in
the corpus's language (Chinese for the Chinese corpus; English for the mixed one, its working language).
All people, numbers and references are invented.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

# -- Chinese -------------------------------------------------------------------------------------------
BANK = "红隼银行"
AGENTS = ["小王", "小李", "小张", "小陈", "小刘", "小周", "小林", "小赵", "小吴", "小郑"]
NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴芳", "徐强", "孙悦", "马超",
         "朱琳", "胡军", "郭晨", "何雪", "高峰", "林晓", "罗敏", "梁博", "宋佳", "谢涛", "韩梅", "唐宁"]

ZH_GREET = [
    "您好，欢迎致电{bank}，我是客服{agent}，请问有什么可以帮您？",
    "您好，{bank}在线客服{agent}为您服务，请问您需要办理什么业务？",
    "您好，这里是{bank}客户服务中心，工号{num}，很高兴为您服务。",
    "早上好，{bank}客服{agent}，请问有什么可以帮到您？",
    "下午好，感谢您联系{bank}，我是{agent}，请问您遇到了什么问题？",
    "您好，我是{bank}的{agent}，请问今天有什么可以为您效劳的？",
    "您好，{bank}客服中心，我是{agent}，请问您要咨询什么？",
    "晚上好，这里是{bank}，我是值班客服{agent}，请讲。",
]
ZH_ASK_VERIFY = [
    "为了保障您的账户安全，请提供您的姓名和身份证后四位。",
    "在办理之前，需要先核实一下您的身份，请问您的全名是？",
    "麻烦您报一下姓名和预留手机号码。",
    "请您提供一下出生日期和卡号后四位，我核实一下身份。",
    "请问您的姓名和身份证号码后六位是？",
    "为了确认是您本人，请说一下您的姓名和生日。",
    "先帮您验证一下身份，请提供姓名和证件号码后四位。",
    "请告诉我您的账户姓名和绑定的手机号。",
]
ZH_PROVIDE_INFO = [
    "我叫{name}，身份证后四位是{n4}。",
    "{name}，手机号{phone}。",
    "我的名字是{name}，出生日期是{year}年{m}月{d}日。",
    "好的，我是{name}，卡号尾号{n4}。",
    "姓名{name}，身份证号码后六位{n6}。",
    "我叫{name}，预留手机号是{phone}。",
    "{name}，生日{m}月{d}日。",
    "我是户主{name}，证件号尾号{n4}。",
]
ZH_THANK = ["好的，谢谢你。", "太感谢了！", "谢谢，帮了大忙了。", "非常感谢您的帮助。", "好的好的，谢谢。",
            "谢谢你啊，服务很好。", "明白了，谢谢。", "多谢！", "感谢，辛苦了。", "好的，麻烦你了，谢谢。",
            "谢谢，这样我就放心了。", "行，谢谢您。", "谢谢您这么耐心。", "好的，真是太谢谢了。"]
ZH_DECLINE = ["没有了，就这些。", "不用了，没别的事了。", "暂时没有了。", "没有其他问题了。", "就这样吧，没别的了。",
              "没有了，先这样。", "别的没什么了。", "其他都没问题了。", "没了。", "没有别的需要了。"]
ZH_OFFER = ["请问还有其他可以帮您的吗？", "还有什么需要我帮忙的吗？", "请问还有别的问题吗？", "还需要办理其他业务吗？",
            "其他还有什么疑问吗？", "请问还有什么可以为您做的吗？"]
ZH_CLOSE = ["感谢您的来电，祝您生活愉快，再见！", "好的，那不打扰您了，再见。", "感谢您联系{bank}，祝您一天顺利。",
            "不客气，有需要随时联系我们，再见。", "很高兴为您服务，再见！", "感谢您的耐心，祝您周末愉快，再见。",
            "不客气，稍后请对我的服务做个评价，再见。"]
ZH_APOLOGIZE = ["非常抱歉给您带来不便。", "真的很抱歉，让您久等了。", "对不起，这个情况给您添麻烦了。",
                "很抱歉听到这个消息，我马上帮您处理。", "抱歉让您遇到这样的问题。", "实在不好意思，给您造成了困扰。"]
ZH_PREFIX = ["", "好的，", "好的{title}，", "核实通过，", "没问题，", "明白了，", "{title}您好，"]

# topic: (customer intent, its requests; agent intent and answers; is it a problem the agent apologises for)
ZH_TOPICS: dict[str, tuple[str, list[str], str, list[str], bool]] = {
    "lost": ("report-银行卡丢失", [
        "我的银行卡丢了，昨天在超市还用过，今天就找不到了。", "你好，我的借记卡好像丢了，怎么办？",
        "卡被偷了，钱包整个都不见了。", "我的银行卡在取款机上被吞了，取不出来。", "我找遍了家里和车里，卡还是找不到。",
        "新卡寄了两个星期还没收到，是不是寄丢了？", "银行卡丢了，麻烦帮我挂失一下。",
        "我刚发现卡不见了，可能是在地铁上丢的。", "卡丢了，我担心被别人盗刷。", "我想挂失我的银行卡，它昨晚丢了。"],
        "confirm-已办理", ["已经为您挂失了这张卡，新卡会在五个工作日内寄到。", "卡已经冻结了，任何人都用不了了。",
                          "挂失已经办好了，补办的新卡会寄到您登记的地址。"], False),
    "balance": ("inquire-余额", [
        "我想查一下我的账户余额。", "请问我卡里还有多少钱？", "余额多少？", "帮我查查储蓄账户的余额，谢谢。",
        "我想知道我活期账户现在还剩多少钱。", "能告诉我信用卡还有多少可用余额吗？", "查余额。",
        "我的工资到账了吗？想看下余额。", "请问我两个账户的余额分别是多少？"],
        "provide-查询结果", ["您的活期账户余额是{amount}元。", "查到了，您储蓄账户目前的余额是{amount}元。",
                            "您的信用卡可用额度还有{amount}元。"], False),
    "password": ("reset-密码", [
        "我忘记手机银行的登录密码了，怎么重置？", "密码输错太多次，账户被锁了。", "我想改一下我的登录密码。",
        "重置密码的验证码一直收不到。", "我的网银密码忘了，能帮我重置吗？", "登录不了，提示密码错误，我想重新设置密码。",
        "怎么修改银行卡的交易密码？", "密码忘了，进不去账户了。"],
        "explain-操作步骤", ["您可以在登录页面点“忘记密码”，按提示验证身份后设置新密码。",
                            "我已经给您发了重置链接，点开后输入短信验证码就能设置新密码。",
                            "账户已经解锁，您现在可以用临时密码登录，然后再改成新密码。"], False),
    "transfer": ("inquire-转账进度", [
        "我昨天转了一笔钱给我妈，到现在还没到账。", "请问我上周的跨行转账为什么还没到？",
        "转账显示处理中，要多久才能到账？", "我给房东转的房租对方说没收到，能帮我查查吗？",
        "一笔汇款已经三天了还没到账，怎么回事？", "我想查一下转账的状态。", "国际汇款一般几天能到？我前天汇出去的。",
        "转账到底到了没有？"],
        "provide-查询结果", ["查到了，您的转账已经在今天上午到账。", "这笔转账还在处理中，预计明天到账。",
                            "您的汇款已经汇出，对方银行正在入账，一般需要一到两个工作日。"], False),
    "dispute": ("dispute-交易", [
        "我的卡被重复扣款了，同一笔消费扣了两次。", "这笔消费金额不对，我只买了两百块，却扣了五百。",
        "我已经取消了会员，可是这个月还被扣费了。", "网购的东西一直没收到，钱却已经扣了，我想申请争议。",
        "账单上有一笔消费我有异议，商家多收了钱。", "我退货了，但商家一直没退钱，这笔交易我要投诉。",
        "同一家餐厅扣了我两次钱。", "我想对一笔信用卡交易提出争议。"],
        "confirm-已办理", ["已经为您提交了争议申请，编号是{ref}。", "争议已经登记，我们会联系商家核实。"], True),
    "fraud": ("report-诈骗", [
        "我账户里有几笔我没做过的消费，是不是被盗刷了？", "我接到一个冒充银行的电话，把验证码告诉他了。",
        "有人用我的卡在国外刷了钱，我人在国内啊。", "我收到一条短信点了链接，现在账户少了三千块。",
        "我怀疑我的账户被人盗用了。", "我被骗了，转了一笔钱给骗子。", "半夜收到好几条扣款短信，都不是我本人操作的。",
        "这几笔交易不是我做的，我要报告诈骗。"],
        "confirm-已办理", ["已经冻结了您的账户，并为您提交了盗刷报案。", "可疑交易已经拦截，卡也已经冻结了。"], True),
    "refund": ("request-退款", [
        "我想申请退还这个月的年费。", "取款机没出钞，但钱已经扣了，请退给我。", "我转错账了，能帮我把钱追回来吗？",
        "你们多收了我一笔手续费，请退款。", "透支利息收得不合理，我要求退还。", "这笔跨行手续费能退吗？",
        "请把多扣的钱退回到我的账户。", "我想要回那笔服务费。"],
        "confirm-已办理", ["已经为您办理退款，款项会在三个工作日内退回。", "手续费已经退回到您的账户了。"], False),
    "fx": ("inquire-汇率", [
        "今天美元兑人民币的汇率是多少？", "我下个月去日本，想问一下日元汇率。", "请问换欧元的汇率怎么算？",
        "英镑现在的牌价是多少？", "在你们这换港币划算吗？汇率多少？", "用信用卡在国外消费，汇率按哪天算？",
        "美元汇率最近涨了吗？", "我想换一千美元，大概需要多少人民币？"],
        "provide-查询结果", ["今天美元的现汇卖出价是{rate}。", "目前日元的牌价是每一百日元兑{rate}元人民币。",
                            "欧元今天的汇率是{rate}，以实际交易时为准。"], False),
    "limit": ("increase-信用额度", [
        "我想提高一下信用卡的额度。", "信用卡额度不够用，能调高吗？", "我想申请临时提额，下个月要出国。",
        "我的信用额度只有五千，能不能提到两万？", "请问怎么申请提升信用卡额度？", "额度太低了，我想提额。",
        "我用卡一直按时还款，可以给我加点额度吗？", "装修要用钱，想把信用卡额度临时调高一点。"],
        "confirm-已办理", ["您的临时额度已经提升到两万元，立即生效。", "提额申请已经通过，新额度明天生效。"], False),
    "address": ("update-地址", [
        "我搬家了，想更新一下我的联系地址。", "请帮我把账单地址改成新地址。", "我的邮寄地址变了，怎么修改？",
        "我想更改在你们这登记的住址。", "信用卡账单还寄到老地址，我要改地址。", "怎么在手机银行上修改通讯地址？",
        "地址需要更新一下，我刚搬到新家。", "麻烦帮我改一下地址，新地址是{city}{street}{n2}号。"],
        "confirm-已办理", ["您的地址已经更新好了。", "新地址已经登记，以后的账单都会寄到这里。"], False),
    "cancel": ("cancel-信用卡", [
        "我想注销我的信用卡。", "这张信用卡我不用了，帮我销卡吧。", "请问怎么取消信用卡？", "我要注销副卡，主卡保留。",
        "年费太贵了，我想把这张卡注销掉。", "我有两张信用卡，想注销其中一张。", "麻烦帮我把这张白金卡注销。",
        "信用卡不想用了，可以直接注销吗？"],
        "confirm-已办理", ["信用卡已经为您注销了。", "销卡申请已经提交，四十五天后正式注销。"], False),
    "loan": ("inquire-贷款利率", [
        "请问你们的个人贷款利率是多少？", "我想贷款二十万买车，利息怎么算？", "房贷利率现在是多少？",
        "消费贷款的年利率大概多少？", "贷款五年的话利率会不会低一点？", "我想了解一下装修贷款的利率。",
        "你们的贷款利息比别的银行高吗？", "借十万元一年要多少利息？"],
        "provide-查询结果", ["个人消费贷款的年利率目前是{pct}起。", "按您的情况，五年期的贷款利率大约是{pct}。"], False),
    "app": ("report-应用故障", [
        "手机银行一打开就闪退。", "APP登录的时候一直转圈，进不去。", "手机银行转账的时候报错了，提示系统繁忙。",
        "更新应用以后就打不开了。", "你们的应用收不到验证码短信。", "手机银行显示网络异常，但我网络是好的。",
        "应用上查不到我的交易记录，页面一片空白。", "APP总是提示出错，什么都办不了。"],
        "explain-操作步骤", ["请先卸载应用再重新安装，然后清除缓存试一下。",
                            "您可以先退出登录，把应用更新到最新版本，再重新登录。",
                            "建议您切换一下网络，或者重启手机后再打开手机银行。"], True),
}
ZH_EXTRA_EXPLAIN = {
    "lost": "补办新卡不收手续费，收到后需要在手机银行激活。",
    "dispute": "争议处理一般需要十五个工作日，期间我们会联系商家。",
    "fraud": "您需要尽快修改密码，新卡会在一周内寄出。",
    "limit": "您也可以在手机银行“信用卡”页面点“额度管理”自己申请提额。",
    "address": "您也可以在手机银行的“个人信息”里自己修改地址。",
    "cancel": "注销前需要先还清所有欠款，剩余积分会一并清零。",
    "refund": "如果三个工作日后还没到账，您可以再联系我们。",
}
CITIES = ["上海市", "北京市", "杭州市", "成都市", "广州市", "南京市", "武汉市"]
STREETS = ["长宁路", "建国路", "文三路", "春熙路", "天河路", "中山路", "解放大道"]


def _zh_fill(text: str, rng: random.Random, agent: str, name: str) -> str:
    return text.format(bank=BANK, agent=agent, num=rng.randint(1000, 9999), name=name,
                       n4=rng.randint(1000, 9999), n6=rng.randint(100000, 999999), n2=rng.randint(1, 99),
                       phone=f"1{rng.randint(3, 9)}{rng.randint(100000000, 999999999)}", year=rng.randint(1960, 2002),
                       m=rng.randint(1, 12), d=rng.randint(1, 28), amount=f"{rng.randint(100, 99999):,}",
                       rate=f"{rng.uniform(4.6, 7.3):.4f}", pct=f"{rng.uniform(3.2, 6.8):.2f}%", ref=f"ZY{rng.randint(10000, 99999)}",
                       city=rng.choice(CITIES), street=rng.choice(STREETS), title=name[0] + rng.choice(["先生", "女士"]))


def chinese(dialogues: int = 64, seed: int = 20) -> list[dict]:
    rng = random.Random(seed)
    topics = list(ZH_TOPICS)
    order = [topics[i % len(topics)] for i in range(dialogues)]
    rng.shuffle(order)
    used: dict[str, set[int]] = {}
    rows: list[dict] = []

    def pick(key: str, pool: list[str]) -> str:
        free = [i for i in range(len(pool)) if i not in used.setdefault(key, set())] or list(range(len(pool)))
        i = rng.choice(free)
        used[key].add(i)
        if len(used[key]) == len(pool):
            used[key] = set()
        return pool[i]

    for d, topic in enumerate(order):
        agent, name = rng.choice(AGENTS), rng.choice(NAMES)
        c_intent, asks, a_intent, answers, problem = ZH_TOPICS[topic]
        turns: list[tuple[str, str, str]] = []
        phone = rng.random() < 0.7  # a call: the agent speaks first; else an app chat
        if phone:
            turns.append(("agent", "greet-客户", pick("greet", ZH_GREET)))
        turns.append(("customer", c_intent, pick(topic, asks)))
        if problem and rng.random() < 0.7:
            turns.append(("agent", "apologize-不便", pick("sorry", ZH_APOLOGIZE)))
            turns.append(("customer", c_intent, pick(topic, asks)))
        turns.append(("agent", "ask-身份验证", rng.choice(ZH_PREFIX) + pick("verify", ZH_ASK_VERIFY)))
        turns.append(("customer", "provide-个人信息", pick("info", ZH_PROVIDE_INFO)))
        turns.append(("agent", a_intent, rng.choice(ZH_PREFIX) + pick(topic + "-a", answers)))
        if topic in ZH_EXTRA_EXPLAIN and rng.random() < 0.6:
            turns.append(("customer", c_intent, pick(topic, asks)))
            turns.append(("agent", "explain-操作步骤", ZH_EXTRA_EXPLAIN[topic]))
        turns.append(("customer", "thank-客服", pick("thank", ZH_THANK)))
        turns.append(("agent", "offer-其他帮助", pick("offer", ZH_OFFER)))
        if rng.random() < 0.4:  # a second topic
            t2 = rng.choice([t for t in topics if t != topic])
            c2, asks2, a2, answers2, _ = ZH_TOPICS[t2]
            turns.append(("customer", c2, pick(t2, asks2)))
            turns.append(("agent", a2, rng.choice(ZH_PREFIX) + pick(t2 + "-a", answers2)))
            turns.append(("customer", "thank-客服", pick("thank", ZH_THANK)))
            turns.append(("agent", "offer-其他帮助", pick("offer", ZH_OFFER)))
        turns.append(("customer", "decline-其他帮助", pick("decline", ZH_DECLINE)))
        turns.append(("agent", "close-对话", pick("close", ZH_CLOSE)))
        for t, (role, intent, text) in enumerate(turns):
            rows.append({"dialogue_id": f"z{d + 1:03d}", "turn": t, "role": role,
                         "text": _zh_fill(text, rng, agent, name), "intent": intent})
    return rows


# -- Spanish + English -----------------------------------------------------------------------------------
MIX: dict[str, dict[str, list[str]]] = {
    "greet-customer": {
        "es": ["Hola, gracias por llamar a Banco Cernícalo, le atiende {agent}. ¿En qué puedo ayudarle?",
               "Buenos días, soy {agent} del servicio al cliente, ¿qué necesita hoy?",
               "Buenas tardes, Banco Cernícalo, habla {agent}. ¿Cómo le puedo ayudar?"],
        "en": ["Hello, Kestrel Bank, you're speaking with {agent}. How can I help?",
               "Good morning, this is {agent} from customer support. What can I do for you today?",
               "Hi, thanks for contacting Kestrel Bank, {agent} here. How can I help?"]},
    "ask-verification": {
        "es": ["Antes de nada, ¿me puede dar su nombre completo y fecha de nacimiento?",
               "Para verificar su identidad, dígame su nombre y los últimos cuatro dígitos de su DNI.",
               "Necesito confirmar que es usted, ¿cuál es su nombre y su código postal?"],
        "en": ["Before I go ahead, can I take your full name and date of birth?",
               "To verify your identity, could you confirm your name and postcode?",
               "Can you give me your name and the last four digits of the card, please?"]},
    "provide-personal_details": {
        "es": ["Me llamo {name}, nací el {d} de marzo de {year}.", "Soy {name}, mi código postal es {n5}.",
               "{name}, los últimos dígitos son {n4}."],
        "en": ["It's {name}, born {d} March {year}.", "My name is {name}, postcode {n5}.",
               "{name}, last four digits {n4}."]},
    "report-lost_card": {
        "es": ["He perdido mi tarjeta, creo que se me cayó en el metro.", "Me han robado la tarjeta de débito.",
               "No encuentro mi tarjeta desde ayer.", "El cajero se tragó mi tarjeta."],
        "en": ["I've lost my card, I think I dropped it on the bus.", "My debit card was stolen yesterday.",
               "I can't find my card anywhere, my card is lost.", "The cash machine swallowed my card."]},
    "inquire-balance": {
        "es": ["¿Cuánto dinero tengo en la cuenta?", "Quería consultar el saldo de mi cuenta corriente.",
               "¿Me puede decir mi saldo, por favor?", "Saldo de la cuenta de ahorro, por favor."],
        "en": ["What's my balance?", "Can you tell me how much is in my current account?",
               "I'd like to check the balance on my savings account.", "balance pls"]},
    "reset-password": {
        "es": ["Olvidé mi contraseña de la app y no puedo entrar.", "Quiero cambiar la contraseña de la banca online.",
               "Mi cuenta se bloqueó por poner mal la contraseña."],
        "en": ["I forgot my password for the app.", "I need to reset my online banking password.",
               "I'm locked out after typing the wrong password too many times."]},
    "request-refund": {
        "es": ["Me cobraron una comisión que no corresponde, quiero que me la devuelvan.",
               "El cajero no me dio el dinero pero sí me lo cobró, quiero un reembolso.",
               "¿Me pueden devolver la cuota anual?"],
        "en": ["You charged me a fee I shouldn't pay, I want a refund.",
               "The ATM didn't give me the cash but took the money, please refund it.",
               "Can I get the annual fee refunded?"]},
    "confirm-request_done": {
        "es": ["Listo, ya he bloqueado la tarjeta y le enviaremos una nueva.", "Hecho, la devolución ya está tramitada.",
               "Ya está, le he enviado un enlace para crear una contraseña nueva."],
        "en": ["Done, I've blocked the card and a new one is on its way.", "That's done, the refund has been processed.",
               "All set, I've sent you a link to create a new password."]},
    "provide-balance": {
        "es": ["Su saldo disponible es de {amount} euros.", "En la cuenta de ahorro tiene {amount} euros."],
        "en": ["Your available balance is {amount} pounds.", "You have {amount} pounds in your savings account."]},
    "thank-agent": {
        "es": ["Muchas gracias.", "Gracias, muy amable.", "Perfecto, gracias por la ayuda."],
        "en": ["Thanks so much.", "Great, thank you.", "Cheers, that's really helpful."]},
    "close-conversation": {
        "es": ["Gracias por llamar, que tenga un buen día.", "A usted, hasta luego.", "Un placer ayudarle, adiós."],
        "en": ["Thanks for calling, have a lovely day.", "You're welcome, goodbye.", "Take care, bye now."]},
}
MIX_TOPICS = {"report-lost_card": "confirm-request_done", "reset-password": "confirm-request_done",
              "request-refund": "confirm-request_done", "inquire-balance": "provide-balance"}
MIX_NAMES = ["Lucía García", "Carlos Martínez", "Ana López", "Diego Fernández", "Emma Wilson", "James Carter",
             "Sofía Ramírez", "Oliver Hughes", "María Torres", "Daniel Ruiz"]


def mixed(dialogues: int = 20, seed: int = 21) -> list[dict]:
    rng = random.Random(seed)
    topics = list(MIX_TOPICS)
    rows: list[dict] = []
    for d in range(dialogues):
        topic = topics[d % len(topics)]
        style = ["es", "en", "switch"][d % 3]  # all Spanish, all English, or each turn in either
        agent, name = rng.choice(["Marta", "Javier", "Priya", "Tom"]), rng.choice(MIX_NAMES)
        plan = ["greet-customer", topic, "ask-verification", "provide-personal_details", MIX_TOPICS[topic],
                "thank-agent", "close-conversation"]
        for t, intent in enumerate(plan):
            lang = style if style != "switch" else rng.choice(["es", "en"])
            text = rng.choice(MIX[intent][lang]).format(
                agent=agent, name=name, d=rng.randint(1, 28), year=rng.randint(1960, 2002), n5=rng.randint(10000, 52999),
                n4=rng.randint(1000, 9999), amount=f"{rng.randint(100, 9999):,}")
            rows.append({"dialogue_id": f"m{d + 1:03d}", "turn": t, "role": "agent" if t % 2 == 0 else "customer",
                         "text": text, "intent": intent})
    return rows


def write(rows: list[dict], name: str) -> None:
    (HERE / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    write(chinese(), "customer_service_zh.jsonl")
    write(mixed(), "customer_service_es_en.jsonl")
