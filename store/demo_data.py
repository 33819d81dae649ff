"""The constant tables of the demo data (store.demo): places, units, names, violations and the provisions cited.

Only the store.demo modules use these. The order of every tuple is part of the demo: the generators draw from
them by position, so reordering or inserting an entry changes the names and records that come out.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- Places and units --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    code: str  # GB/T 2260 administrative region code, positions 3-8 of a USCC
    name: str
    abbr: str  # the one-character prefix of the district bureau's document numbers
    court: str  # the court code in case numbers: （2025）沪0104执1234号

    @property
    def bureau(self) -> str:
        return f"上海市{self.name}人力资源和社会保障局"

    @property
    def court_name(self) -> str:
        return f"上海市{self.name}人民法院"

    @property
    def arbitration(self) -> str:
        return f"上海市{self.name}劳动人事争议仲裁委员会"


DISTRICTS = (
    District("310101", "黄浦区", "黄", "0101"),
    District("310104", "徐汇区", "徐", "0104"),
    District("310105", "长宁区", "长", "0105"),
    District("310106", "静安区", "静", "0106"),
    District("310107", "普陀区", "普", "0107"),
    District("310109", "虹口区", "虹", "0109"),
    District("310110", "杨浦区", "杨", "0110"),
    District("310112", "闵行区", "闵", "0112"),
    District("310113", "宝山区", "宝", "0113"),
    District("310114", "嘉定区", "嘉", "0114"),
    District("310115", "浦东新区", "浦", "0115"),
    District("310117", "松江区", "松", "0117"),
)
DISTRICT_BY_CODE = {d.code: d for d in DISTRICTS}
RURAL = tuple(d for d in DISTRICTS if d.code in {"310112", "310113", "310114", "310117"})
# Where people who came to work in Shanghai were registered (a few provinces' district codes).
OTHER_REGIONS = ("320102", "320583", "330106", "340104", "341202", "360102", "410102", "420102", "510104")

CITY_BUREAU = "上海市人力资源和社会保障局"
ENFORCEMENT = "上海市人力资源和社会保障局执法总队"
CITY_ARBITRATION = "上海市劳动人事争议仲裁院"
EMPLOYMENT_CENTRE = "上海市就业促进中心"
SOCIAL_INSURANCE_CENTRE = "上海市社会保险事业管理中心"

# --- Names -------------------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余杜叶程魏苏吕丁沈姚卢顾陆钱汪金戴"
)
MALE_CHARS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙峰建国志文晨嘉毅诚"
FEMALE_CHARS = "芳娟敏静丽艳娜秀英慧巧美婷雪琳霞燕玲颖倩洁蕾丹萍红梅莉琴晶佳怡"
TRADE_CHARS = "恒信华瑞达宏鑫盛嘉泰德安明创新远博通锦源晨弘优凯诚立和丰祥益佳捷汇邦润正联融卓鼎辰启航伟朗"

# (name suffix, industry tag): the tag picks plausible violations.
INDUSTRIES = (
    ("科技有限公司", "office"),
    ("信息技术有限公司", "office"),
    ("生物医药有限公司", "office"),
    ("建筑工程有限公司", "construction"),
    ("建设工程有限公司", "construction"),
    ("建筑劳务有限公司", "construction"),
    ("装饰工程有限公司", "construction"),
    ("物业管理有限公司", "service"),
    ("保洁服务有限公司", "service"),
    ("餐饮管理有限公司", "service"),
    ("酒店管理有限公司", "service"),
    ("物流有限公司", "logistics"),
    ("供应链管理有限公司", "logistics"),
    ("机械制造有限公司", "manufacturing"),
    ("电子有限公司", "manufacturing"),
    ("汽车零部件有限公司", "manufacturing"),
    ("服饰有限公司", "manufacturing"),
    ("食品有限公司", "manufacturing"),
    ("人力资源有限公司", "hr"),
    ("商贸有限公司", "office"),
)
CONSTRUCTION_SUFFIXES = ("建筑工程有限公司", "建设工程有限公司", "建筑劳务有限公司")
SHOPS = ("面馆", "便利店", "五金店", "理发店", "水果店", "小吃店", "洗衣店", "早餐店")
PUBLIC_INSTITUTIONS = ("图书馆", "文化馆", "青少年活动中心")
ASSOCIATIONS = ("餐饮行业协会", "物业管理行业协会", "建筑业协会")

# The organizations other than companies, all without records (grade A):
# (registration authority, organization type, how many, kind of name): GB 32100-2015 position 1 and 2.
OTHER_ORGS = (
    ("9", "2", 8, "shop"),  # 个体工商户
    ("9", "3", 3, "cooperative"),  # 农民专业合作社
    ("1", "1", 1, "agency"),  # 机关
    ("1", "2", 3, "institution"),  # 事业单位
    ("5", "1", 2, "association"),  # 社会团体
    ("5", "2", 4, "school"),  # 民办非企业单位
    ("N", "1", 3, "village"),  # 农村集体经济组织
    ("Y", "1", 1, "other"),  # 其他
)

# --- Violations and the provisions records cite ------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    text: str
    basis: str
    fine: tuple[int, int]  # yuan, per worker when per_worker
    per_worker: bool
    industries: frozenset[str] | None = None  # None: any employer
    workers: tuple[int, int] = (2, 30)  # how many workers a case typically concerns


PENALTIES = (
    Violation("违法延长劳动者工作时间", "《劳动保障监察条例》第二十五条", (100, 500), True, workers=(5, 60)),
    Violation("未依法办理社会保险登记，逾期未改正", "《中华人民共和国社会保险法》第八十四条", (5000, 60000), False),
    Violation("向社会保险经办机构瞒报工资总额和职工人数", "《劳动保障监察条例》第二十七条", (10000, 90000), False),
    Violation("以担保名义向劳动者收取押金", "《中华人民共和国劳动合同法》第八十四条", (500, 2000), True),
    Violation("无理阻挠劳动保障行政部门实施劳动保障监察", "《劳动保障监察条例》第三十条", (2000, 20000), False),
    Violation(
        "安排孕期女职工从事禁忌从事的劳动",
        "《劳动保障监察条例》第二十三条",
        (1000, 5000),
        True,
        frozenset({"manufacturing", "service", "logistics"}),
        workers=(1, 3),
    ),
    Violation(
        "未编制农民工工资支付台账并依法保存，未向农民工提供工资清单",
        "《保障农民工工资支付条例》第五十四条",
        (20000, 50000),
        False,
        frozenset({"construction"}),
    ),
    Violation(
        "施工总承包单位未按规定开设、使用农民工工资专用账户",
        "《保障农民工工资支付条例》第五十五条",
        (50000, 100000),
        False,
        frozenset({"construction"}),
    ),
    Violation(
        "未经许可擅自经营劳务派遣业务",
        "《中华人民共和国劳动合同法》第九十二条",
        (20000, 150000),
        False,
        frozenset({"hr"}),
    ),
)
# A serious penalty needs a law, a regulation or a central policy document as its basis (SH art. 5, last
# paragraph).
SERIOUS_PENALTY = Violation(
    "以伪造证明材料手段骗取工伤保险待遇", "《中华人民共和国社会保险法》第八十八条", (60000, 300000), False
)
CORRECTIONS = (
    Violation("未与劳动者订立书面劳动合同", "《劳动保障监察条例》第二十四条", (0, 0), True),
    Violation("未按时足额支付劳动者工资报酬", "《劳动保障监察条例》第二十六条", (0, 0), True),
    Violation("未按规定支付延长工作时间的工资报酬", "《劳动保障监察条例》第二十六条", (0, 0), True),
    Violation("未安排职工休带薪年休假且未支付年休假工资报酬", "《职工带薪年休假条例》第七条", (0, 0), True),
    Violation("未按规定建立职工名册", "《中华人民共和国劳动合同法实施条例》第三十三条", (0, 0), True),
    Violation(
        "未按规定存储农民工工资保证金",
        "《保障农民工工资支付条例》第五十五条",
        (0, 0),
        True,
        frozenset({"construction"}),
    ),
)
FALSE_MATERIALS_BASIS = "《上海市人力资源和社会保障局信用信息管理办法》（沪人社规〔2023〕26号）第五条第（三）项"
BENEFIT_FRAUD_BASIS = "《中华人民共和国社会保险法》第八十八条"
BROKEN_COMMITMENT_BASIS = "《上海市人力资源和社会保障局信用信息管理办法》（沪人社规〔2023〕26号）第五条第（四）项"
BLACKLIST_BASIS = "《保障农民工工资支付条例》第四十八条；《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》第五条"
DEFAULTER_BASIS = "《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条"

# --- What records are about --------------------------------------------------------------------------------

ORG_AWARDS = (
    "上海市就业创业工作先进集体",
    "上海市技能人才培育突出贡献单位",
    "上海市职业技能竞赛优秀组织单位",
    "上海市人力资源社会保障系统诚信示范单位",
)
ARBITRATION_CLAIMS = (
    "违法解除劳动合同赔偿金",
    "拖欠工资及加班费",
    "未订立书面劳动合同二倍工资差额",
    "经济补偿金",
    "未休年休假工资",
)
INTERVIEW_TOPICS = (
    "欠薪风险隐患约谈主要负责人",
    "劳动用工风险提示约谈",
    "社会保险费缴纳情况约谈",
)
SUBSIDIES = ("一次性吸纳就业补贴", "职业培训补贴", "稳岗返还")  # obtained by an employer with false materials
BENEFITS = ("失业保险金", "工伤保险待遇")  # obtained by an individual with forged papers
COMMITMENT_MATTERS = ("劳务派遣经营许可", "人力资源服务许可", "社会保险登记变更")  # approved on a false commitment
