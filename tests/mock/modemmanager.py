'''ModemManager1 D-Bus mock template for python-dbusmock (0.28 ships none).

Covers what dataline's handset uses: the ObjectManager on
/org/freedesktop/ModemManager1, one Modem object with OwnNumbers, its
Modem.Messaging interface (List, Messages) and Sms objects with
State/PduType/Number/Text/Timestamp, as ModemManager 1.20 exposes them.

Parameters (-p JSON): {"OwnNumbers": ["+8613800138000"], "no_modem": false}
Mock control (interface org.freedesktop.DBus.Mock on the main object):
  AddSms(number s, text s, timestamp s) -> o   a received SMS
  SetOwnNumbers(numbers as)
Usage: python3 -m dbusmock -s -t tests/mock/modemmanager.py -p '{...}'
'''

import dbus

import dbusmock

BUS_NAME = 'org.freedesktop.ModemManager1'
MAIN_OBJ = '/org/freedesktop/ModemManager1'
MAIN_IFACE = 'org.freedesktop.ModemManager1'
SYSTEM_BUS = True
IS_OBJECT_MANAGER = True

MODEM_IFACE = 'org.freedesktop.ModemManager1.Modem'
MSG_IFACE = 'org.freedesktop.ModemManager1.Modem.Messaging'
SMS_IFACE = 'org.freedesktop.ModemManager1.Sms'
MODEM_PATH = '/org/freedesktop/ModemManager1/Modem/0'

MM_SMS_STATE_RECEIVED = 3
MM_SMS_PDU_TYPE_DELIVER = 1


def load(mock, parameters):
    mock.sms_count = 0
    mock.AddMethod(MAIN_IFACE, 'ScanDevices', '', '', '')
    if parameters.get('no_modem', False):
        return
    mock.AddObject(MODEM_PATH, MODEM_IFACE, {
        'OwnNumbers': dbus.Array(parameters.get('OwnNumbers', ['+8613800138000']),
                                 signature='s', variant_level=1),
        'State': dbus.Int32(8, variant_level=1),  # MM_MODEM_STATE_REGISTERED
        'Manufacturer': dbus.String('dataline-mock', variant_level=1),
        'Model': dbus.String('Mock Modem', variant_level=1),
        'EquipmentIdentifier': dbus.String('358240051111110', variant_level=1),
    }, [])
    modem = dbusmock.mockobject.objects[MODEM_PATH]
    modem.AddProperties(MSG_IFACE, {
        'Messages': dbus.Array([], signature='o', variant_level=1),
        'SupportedStorages': dbus.Array([dbus.UInt32(2)], signature='u', variant_level=1),
        'DefaultStorage': dbus.UInt32(2, variant_level=1),
    })
    modem.AddMethod(MSG_IFACE, 'List', '', 'ao',
                    'ret = self.Get("%s", "Messages")' % MSG_IFACE)
    mock.EmitSignal('org.freedesktop.DBus.ObjectManager', 'InterfacesAdded',
                    'oa{sa{sv}}', [MODEM_PATH, {
                        MODEM_IFACE: modem.GetAll(MODEM_IFACE),
                        MSG_IFACE: modem.GetAll(MSG_IFACE)}])


@dbus.service.method(dbusmock.MOCK_IFACE, in_signature='sss', out_signature='o')
def AddSms(self, number, text, timestamp):
    '''Adds a received SMS to the modem and returns its object path.'''
    path = '/org/freedesktop/ModemManager1/SMS/%d' % self.sms_count
    self.sms_count += 1
    self.AddObject(path, SMS_IFACE, {
        'State': dbus.UInt32(MM_SMS_STATE_RECEIVED, variant_level=1),
        'PduType': dbus.UInt32(MM_SMS_PDU_TYPE_DELIVER, variant_level=1),
        'Number': dbus.String(number, variant_level=1),
        'Text': dbus.String(text, variant_level=1),
        'Timestamp': dbus.String(timestamp, variant_level=1),
        'Storage': dbus.UInt32(2, variant_level=1),
    }, [])
    modem = dbusmock.mockobject.objects[MODEM_PATH]
    msgs = list(modem.Get(MSG_IFACE, 'Messages')) + [dbus.ObjectPath(path)]
    modem.UpdateProperties(MSG_IFACE, {
        'Messages': dbus.Array(msgs, signature='o', variant_level=1)})
    modem.EmitSignal(MSG_IFACE, 'Added', 'ob', [dbus.ObjectPath(path), True])
    return dbus.ObjectPath(path)


@dbus.service.method(dbusmock.MOCK_IFACE, in_signature='as', out_signature='')
def SetOwnNumbers(self, numbers):
    '''Replaces the modem's OwnNumbers.'''
    modem = dbusmock.mockobject.objects[MODEM_PATH]
    modem.UpdateProperties(MODEM_IFACE, {
        'OwnNumbers': dbus.Array(numbers, signature='s', variant_level=1)})
